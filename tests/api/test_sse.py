"""Server-sent events: each subscriber sees only its scope's events, in order, and can resume."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from api.access import GridScope
from api.sse import SseHub
from core.clock import FakeClock
from tests.api.conftest import Server, collect_events, http_login
from tests.support.wait import wait_for

G1 = GridScope(frozenset({"G-01"}))
SITE = GridScope(None)


def test_hub_filters_by_scope_and_replays() -> None:
    async def main() -> None:
        hub = SseHub(FakeClock())
        hub.bind(asyncio.get_running_loop())
        async with hub.subscribe(G1) as worker, hub.subscribe(SITE) as operator:
            hub.publish("camera.changed", "G-02", {"id": "CAM-02"})
            hub.publish("camera.changed", "G-01", {"id": "CAM-01"})
            hub.publish("cameras.imported", None, {"created": 3})
            first = await worker.next()
            assert first is not None
            assert first.data == {"id": "CAM-01"}
            assert worker.queue.empty()  # neither the other grid's event nor the site-wide one
            seen = [await operator.next() for _ in range(3)]
            assert [e.kind for e in seen if e] == ["camera.changed", "camera.changed", "cameras.imported"]
        async with hub.subscribe(G1, after_id=0) as late:
            replayed = await late.next()
            assert replayed is not None
            assert replayed.id == first.id
        assert hub.subscribers == 0

    asyncio.run(main())


def test_a_slow_subscriber_is_dropped_not_waited_for() -> None:
    async def main() -> None:
        hub = SseHub(FakeClock(), queue_size=2)
        hub.bind(asyncio.get_running_loop())
        async with hub.subscribe(SITE) as slow:
            for i in range(3):
                hub.publish("camera.changed", "G-01", {"n": i})
            assert await slow.next() is None
            assert slow.dropped
            assert hub.subscribers == 0

    asyncio.run(main())


def test_closing_ends_open_streams_and_any_opened_later() -> None:
    async def main() -> None:
        hub = SseHub(FakeClock())
        hub.bind(asyncio.get_running_loop())
        async with hub.subscribe(SITE) as open_one:
            hub.close()
            assert await asyncio.wait_for(open_one.next(), 5) is None
        async with hub.subscribe(SITE, after_id=0) as late:
            assert await asyncio.wait_for(late.next(), 5) is None
            assert hub.subscribers == 0

    asyncio.run(main())


def test_publishing_from_worker_threads() -> None:
    async def main() -> None:
        hub = SseHub(FakeClock())
        hub.bind(asyncio.get_running_loop())
        async with hub.subscribe(SITE) as sub:
            threads = [threading.Thread(target=hub.publish, args=("x", "G-01", {"n": n})) for n in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            got = [await asyncio.wait_for(sub.next(), 5) for _ in range(20)]
            assert sorted(e.data["n"] for e in got if e) == list(range(20))
            assert len({e.id for e in got if e}) == 20

    asyncio.run(main())


def _listen(
    server: Server, user: str, want: int, out: list[dict[str, Any]], ready: threading.Event, kind: str = ""
) -> None:
    with http_login(server, user) as http, http.stream("GET", "/api/events", timeout=20) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        ready.set()
        collect_events(res.iter_lines(), want, out, kind)


def test_event_stream_over_http_is_scoped(server: Server) -> None:
    worker_events: list[dict[str, Any]] = []
    operator_events: list[dict[str, Any]] = []
    ready = [threading.Event(), threading.Event()]
    listeners = [
        threading.Thread(target=_listen, args=(server, "gridworker", 1, worker_events, ready[0]), daemon=True),
        threading.Thread(target=_listen, args=(server, "operator", 2, operator_events, ready[1]), daemon=True),
    ]
    for t in listeners:
        t.start()
    with http_login(server, "integrator") as integrator, http_login(server, "admin") as admin:
        assert all(r.wait(20) for r in ready)

        def subscribers() -> float:
            text = admin.get("/metrics").text
            return float(
                next(ln for ln in text.splitlines() if ln.startswith("gridwatch_event_subscribers ")).split()[1]
            )

        wait_for(lambda: subscribers() >= 2)
        for camera_id, compound in (("EV-2", "K-02"), ("EV-1", "K-01")):
            body = {"id": camera_id, "name": camera_id, "compound": compound, "streams": {"main": "rtsp://10.9.0.1/x"}}
            assert integrator.post("/api/cameras", json=body).status_code == 201
        for t in listeners:
            t.join(20)
        assert [e["data"]["id"] for e in worker_events] == ["EV-1"]
        assert [e["data"]["id"] for e in operator_events] == ["EV-2", "EV-1"]
        assert {e["event"] for e in operator_events} == {"camera.changed"}
        for camera_id in ("EV-1", "EV-2"):
            integrator.delete(f"/api/cameras/{camera_id}")


def test_case_events_carry_each_subscribers_own_actions(server: Server) -> None:
    worker_events: list[dict[str, Any]] = []
    operator_events: list[dict[str, Any]] = []
    ready = [threading.Event(), threading.Event()]
    listeners = [
        threading.Thread(target=_listen, args=(server, "gridworker", 3, worker_events, ready[0], "case."), daemon=True),
        threading.Thread(target=_listen, args=(server, "operator", 3, operator_events, ready[1], "case."), daemon=True),
    ]
    for t in listeners:
        t.start()
    with http_login(server, "operator") as op:
        assert all(r.wait(20) for r in ready)
        case = op.post("/api/cases", json={"grid_id": "G-01", "title": "Bins on fire escape"}).json()
        for action in ("register", "dispatch"):
            res = op.post(f"/api/cases/{case['id']}/transitions", json={"action": action})
            assert res.status_code == 200, res.text
        for t in listeners:
            t.join(20)
        for events, expected in (
            (
                operator_events,
                [
                    ["register", "dismiss"],
                    ["dispatch", "dismiss", "escalate"],
                    ["dispatch", "accept", "dismiss", "escalate"],  # handed elsewhere until someone accepts
                ],
            ),
            (worker_events, [[], [], ["accept"]]),
        ):
            assert [e["data"]["id"] for e in events] == [case["id"]] * 3
            assert [e["data"]["allowed_actions"] for e in events] == expected
        assert operator_events[0]["data"]["note_required"] == ["dismiss"]
        assert worker_events[-1]["data"]["assignee_name"] == "Li Na"
