"""The ONVIF client against the protocol simulator: profiles and stream URIs, what a refusal names, discovery,
and the PullPoint subscription's renewals, retries and releases (never leaving a subscription on the device)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest

from core.clock import FakeClock
from core.errors import InvalidInput
from ingest.demo_server import free_port
from ingest.onvif import OnvifDevice, OnvifEvent, PullPointSubscription, SubscriptionTimings, probe_device
from ingest.onvif_discovery import discover, parse_subnet
from tests.support.onvif_sim import OnvifSimulator, running_device

MAIN = "rtsp://127.0.0.1:8554/cam/main"
SUB = "rtsp://127.0.0.1:8554/cam/sub"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[OnvifSimulator]:
    with running_device(MAIN, SUB, now=clock.now) as device:
        yield device


def probe(sim: OnvifSimulator, password: str | None = None, port: int | None = None) -> OnvifDevice:
    return asyncio.run(probe_device("127.0.0.1", port or sim.port, sim.username, password or sim.password, timeout_s=5))


def test_a_probe_finds_the_device_its_profiles_and_the_main_and_sub_stream(sim: OnvifSimulator) -> None:
    device = probe(sim)
    assert device.model == "GW-SIM-1"
    assert device.serial == "SIM-0001"
    assert [p.token for p in device.profiles] == ["profile_main", "profile_sub"]
    assert device.main.stream_uri == MAIN
    assert device.sub is not None
    assert device.sub.stream_uri == SUB
    assert device.sub.width == 640
    assert device.events


def test_wrong_credentials_name_the_username_and_password(sim: OnvifSimulator) -> None:
    with pytest.raises(InvalidInput) as caught:
        probe(sim, password="wrong-password")
    assert [i.where for i in caught.value.issues] == ["username", "password"]
    assert "ONVIF 用户名或密码错误" in caught.value.issues[0].message
    assert "wrong-password" not in str(caught.value)
    assert caught.value.issues[0].code == "onvif_credentials"


def test_a_soap_fault_is_answered_with_its_reason_naming_the_address(sim: OnvifSimulator) -> None:
    sim.fail("GetProfiles", reason="media service busy")
    with pytest.raises(InvalidInput) as caught:
        probe(sim)
    [issue] = caught.value.issues
    assert issue.where == "address"
    assert "GetProfiles" in issue.message
    assert "media service busy" in issue.message
    assert "ter:Action" in issue.message


def test_a_device_that_does_not_answer_names_the_address() -> None:
    port = free_port()
    with pytest.raises(InvalidInput) as caught:
        asyncio.run(probe_device("127.0.0.1", port, "admin", "x", timeout_s=5))
    [issue] = caught.value.issues
    assert issue.where == "address"
    assert f"127.0.0.1:{port}" in issue.message


def test_a_profile_without_a_stream_uri_is_left_out_of_the_suggestion(sim: OnvifSimulator) -> None:
    sim.fail("GetStreamUri", times=1, reason="no encoder free")
    device = probe(sim)
    main, _ = device.profiles
    assert main.stream_uri is None
    assert main.problem is not None
    assert "no encoder free" in main.problem
    assert device.main.token == "profile_sub"
    assert device.sub is None


def test_a_unicast_probe_discovers_the_device(sim: OnvifSimulator) -> None:
    [found] = discover("127.0.0.1/32", port=sim.discovery_port, timeout_s=1.0, multicast=False)
    assert found.address == "127.0.0.1"
    assert found.endpoint == sim.endpoint
    assert found.xaddrs == (f"{sim.url}/onvif/device_service",)
    assert found.hardware == "GW-SIM-1"
    assert found.port == sim.port
    assert discover("127.0.0.2/32", port=sim.discovery_port, timeout_s=0.3, multicast=False) == []


@pytest.mark.parametrize(
    ("text", "says"), [("10.0.0.0/16", "at most 1024"), ("10.0.0/24", "not a subnet"), ("::1/128", "IPv4")]
)
def test_a_subnet_that_cannot_be_probed_is_refused_naming_it(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_subnet(text)
    [issue] = caught.value.issues
    assert issue.where == "subnet"
    assert says in issue.message


# ---------------------------------------------------------------------------- PullPoint subscriptions

FAST = SubscriptionTimings(termination_s=60, renew_fraction=0.5, pull_timeout_s=0.2, retry_s=0.05, call_timeout_s=5)


def run_subscription(
    sim: OnvifSimulator,
    clock: FakeClock,
    scenario: Callable[[PullPointSubscription, list[OnvifEvent]], Awaitable[None]],
) -> PullPointSubscription:
    """Keep a subscription while ``scenario`` runs, then stop it (which must release it)."""
    sub = PullPointSubscription("127.0.0.1", sim.port, sim.username, sim.password, clock=clock, timings=FAST)
    events: list[OnvifEvent] = []

    async def main() -> None:
        stopping = asyncio.Event()

        async def handle(found: list[OnvifEvent]) -> None:
            events.extend(found)

        task = asyncio.create_task(sub.run(handle, stopping))
        try:
            await scenario(sub, events)
        finally:
            stopping.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())
    return sub


async def until(probe: Callable[[], object], timeout_s: float = 10.0) -> None:
    async def poll() -> None:
        while not probe():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout_s)


def test_a_subscription_hands_on_events_and_is_released_when_it_ends(sim: OnvifSimulator, clock: FakeClock) -> None:
    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        sim.emit("tns1:VideoSource/MotionAlarm", {"State": "true"}, {"Source": "VideoSource_1"})
        await until(lambda: events)

    sub = run_subscription(sim, clock, scenario)
    assert sub.subscribed == 1
    assert sim.live_subscriptions == 0
    assert sim.unsubscribed == 1


def test_a_subscription_is_renewed_at_half_its_life(sim: OnvifSimulator, clock: FakeClock) -> None:
    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        clock.advance(29)
        await asyncio.sleep(0.5)
        assert sim.renewed == 0, "not before half its life"
        clock.advance(2)
        await until(lambda: sim.renewed == 1)
        clock.advance(45)  # past the first termination time: alive only because it was renewed
        await asyncio.sleep(0.3)
        assert sim.live_subscriptions == 1

    sub = run_subscription(sim, clock, scenario)
    assert sub.subscribed == 1
    assert sim.created == 1
    assert sim.live_subscriptions == 0


def test_a_failed_renew_is_retried_on_the_same_subscription(sim: OnvifSimulator, clock: FakeClock) -> None:
    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        sim.fail("Renew", times=2)
        clock.advance(31)
        await until(lambda: sub.renew_failures == 1)
        for _ in range(2):  # each retry waits retry_s on the subscription's clock
            await asyncio.sleep(0.3)
            clock.advance(FAST.retry_s)
        await until(lambda: sim.renewed == 1)

    sub = run_subscription(sim, clock, scenario)
    assert sub.renew_failures == 2
    assert sim.created == 1, "the subscription was saved, not made anew"
    assert sim.live_subscriptions == 0


def test_a_subscription_that_cannot_be_renewed_is_released_and_made_anew(sim: OnvifSimulator, clock: FakeClock) -> None:
    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        sim.fail("Renew")
        clock.advance(59.99)  # renewing now can no longer save it
        await until(lambda: sim.created == 2)
        assert sim.unsubscribed == 1, "the old one was released before the new one was made"
        assert sim.live_subscriptions == 1
        sim.heal()

    run_subscription(sim, clock, scenario)
    assert sim.live_subscriptions == 0
    assert sim.expired == 0


def test_a_subscription_the_device_dropped_is_made_anew(sim: OnvifSimulator, clock: FakeClock) -> None:
    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        with sim.lock:
            sim.subscriptions.clear()  # as after a reboot
        await until(lambda: sim.created == 2)
        sim.emit("tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "true"})
        await until(lambda: events)

    run_subscription(sim, clock, scenario)
    assert sim.live_subscriptions == 0


def test_a_device_that_refuses_to_subscribe_is_tried_again(sim: OnvifSimulator, clock: FakeClock) -> None:
    sim.fail("CreatePullPointSubscription", times=2)

    async def scenario(sub: PullPointSubscription, events: list[OnvifEvent]) -> None:
        await until(lambda: sim.live_subscriptions == 1)
        assert sub.subscribed == 1

    run_subscription(sim, clock, scenario)
    assert sim.calls["CreatePullPointSubscription"] == 3
    assert sim.live_subscriptions == 0
