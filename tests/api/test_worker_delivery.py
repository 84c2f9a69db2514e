"""The remote worker's client side against a real API server: the spool replayed in order and forgotten only
once the API answered, an API that is not there yet or refuses the token costing nothing, and the cameras
followed from the API."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from api.access import Role
from api.users import UserStore
from camera_config.wire import Shard
from core.errors import InvalidInput
from detectors.types import EpisodeState
from gridwatch.remote import ApiClient, ApiUnreachable, RemoteSite, SpoolSender
from gridwatch.spool import Spool
from ingest.demo_server import free_port
from tests.api.conftest import Api, serve_app
from tests.support.factories import jpeg, observation
from tests.support.wait import wait_for


@pytest.fixture
def token(api: Api, users: UserStore) -> str:
    users.create("box-1", Role.WORKER)
    return api.token("box-1")["Authorization"].removeprefix("Bearer ")


def episode(name: str, camera: str = "CAM-01") -> list[object]:
    return [
        observation(name, camera_id=camera, hazard="crowd", evidence=jpeg()),
        observation(name, camera_id=camera, hazard="crowd", state="updated", seq=1, people=6),
        observation(name, camera_id=camera, hazard="crowd", state="closed", seq=2),
    ]


def stored(api: Api, camera: str = "CAM-01") -> list[dict[str, object]]:
    return list(api.as_("admin").get("/api/alerts", params={"camera_id": camera}).json()["items"])


def test_the_spool_reaches_the_api_in_order_exactly_once(api: Api, served: str, token: str, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    steps = [*episode("w-1"), *episode("w-2", "CAM-02")]
    for obs in steps:
        spool.put(obs)  # type: ignore[arg-type]
    spool.put(steps[1])  # type: ignore[arg-type]  # sent again (as after a lost answer): a duplicate
    with ApiClient(served, token) as client:
        sender = SpoolSender(spool, client)
        assert sender.send_once() == 7
    assert spool.figures().depth == 0
    figures = sender.figures()
    assert (figures.delivered, figures.duplicates, figures.refused) == (7, 1, 0)
    [alert] = stored(api)
    assert (alert["episode_id"], alert["episode_state"], alert["updates"]) == ("w-1", "closed", 3)
    assert alert["has_evidence"] is True
    assert [a["episode_id"] for a in stored(api, "CAM-02")] == ["w-2"]


def test_what_the_api_refuses_for_good_is_dropped_and_counted_the_rest_stored(
    api: Api, served: str, token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put(observation("w-x", camera_id="NO-SUCH-CAM", hazard="crowd"))
    spool.put(observation("w-3", camera_id="CAM-01", hazard="crowd"))
    with ApiClient(served, token) as client, caplog.at_level(logging.ERROR, logger="gridwatch.remote"):
        sender = SpoolSender(spool, client)
        assert sender.send_once() == 2
    assert spool.figures().depth == 0
    assert sender.figures().refused == 1
    assert 'w-x (opened) refused by the API for good (404): camera "NO-SUCH-CAM" does not exist' in caplog.text
    assert [a["episode_id"] for a in stored(api)] == ["w-3"]


def test_an_api_that_is_not_there_yet_loses_nothing(api: Api, token: str, tmp_path: Path) -> None:
    port = free_port()
    spool = Spool(tmp_path / "spool.db")
    client = ApiClient(f"http://127.0.0.1:{port}", token, timeout_s=2)
    sender = SpoolSender(spool, client, retry_first_s=0.05).start()
    try:
        for obs in episode("w-4"):
            spool.put(obs)  # type: ignore[arg-type]
        sender.notify()
        wait_for(lambda: sender.figures().state.startswith("API unreachable"), timeout_s=10)
        assert f"127.0.0.1:{port}" in sender.figures().state
        assert spool.figures().depth == 3
        with serve_app(api.app, port):  # the API comes up where the worker was looking
            wait_for(lambda: spool.figures().depth == 0, timeout_s=20, what=lambda: sender.figures())
            assert sender.figures().state == "ok" or sender.figures().state == "idle"
    finally:
        sender.stop(drain_s=0)
        client.close()
    [alert] = stored(api)
    assert (alert["episode_id"], alert["updates"], alert["episode_state"]) == ("w-4", 3, "closed")


def test_a_refused_token_keeps_everything_in_the_spool(api: Api, served: str, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put(observation("w-5", camera_id="CAM-01", hazard="crowd"))
    client = ApiClient(served, "not-a-token")
    sender = SpoolSender(spool, client, retry_first_s=0.05).start()
    try:
        wait_for(lambda: sender.figures().state.startswith("token refused"), timeout_s=10)
        assert "(401)" in sender.figures().state
        assert spool.figures().depth == 1
    finally:
        assert sender.stop(drain_s=0) == 1  # still there for the next start
        client.close()
    assert stored(api) == []


def test_the_worker_follows_its_cameras_in_the_api(api: Api, served: str, token: str) -> None:
    client = ApiClient(served, token)
    site = RemoteSite(client, ids=["CAM-01", "CAM-02", "CAM-09"])
    assert site.refresh() is True
    assert [c.id for c in site.cameras()] == ["CAM-01", "CAM-02"]
    assert site.unknown == ["CAM-09"]
    assert site.credentials("CAM-01").password == "demo-pass"
    assert site.refresh() is False  # 304: nothing changed
    before = site.revisions()

    res = api.as_("admin").patch("/api/cameras/CAM-02", json={"enabled": False})
    assert res.status_code == 200, res.text
    after = site.revisions()  # refreshes: the edit arrives at the next poll
    assert after["CAM-02"] == before["CAM-02"] + 1
    assert [c.id for c in site.cameras(enabled_only=True)] == ["CAM-01"]
    client.close()


def test_cameras_are_kept_while_the_api_is_away(api: Api, token: str) -> None:
    port = free_port()
    with ApiClient(f"http://127.0.0.1:{port}", token, timeout_s=2) as client:
        site = RemoteSite(client, shard=Shard(1, 1))
        with serve_app(api.app, port):
            site.refresh()
        assert len(site.cameras()) == 4
        with pytest.raises(ApiUnreachable, match="did not answer"):
            site.refresh()
        assert len(site.revisions()) == 4  # the last known ones


def test_a_bad_api_url_or_token_is_named() -> None:
    with pytest.raises(InvalidInput, match='"ftp://x" is not an http'):
        ApiClient("ftp://x", "t")
    with pytest.raises(InvalidInput, match="token is empty"):
        ApiClient("http://127.0.0.1:1", " ")


def test_sent_steps_keep_their_state(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for obs in episode("w-6"):
        spool.put(obs)  # type: ignore[arg-type]
    assert [s.state for s in spool.peek()] == [EpisodeState.OPENED, EpisodeState.UPDATED, EpisodeState.CLOSED]
