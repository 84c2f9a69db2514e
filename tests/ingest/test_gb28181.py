"""The wvp-GB28181-pro client against the wvp-like simulator: login with the MD5, the token kept and renewed on
a 401, paging, play/start, and every failure naming the gateway and what went wrong (never the password)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camera_config.gateways import GatewayAccess
from ingest.gb28181 import PAGE_SIZE, GatewayError, GatewayFault, WvpClient, password_md5
from tests.support.wvp_sim import SimChannel, WvpSimulator

PASSWORD = "s3cret-pass"
DEV = "34020000001320000001"


def chan(n: int, device: str = DEV, **kw: object) -> SimChannel:
    return SimChannel(device, f"3402000000131{n:07d}", f"通道 {n}", f"/cam/CAM-{n:04d}/sub", **kw)  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with WvpSimulator(("127.0.0.1", 9), password=PASSWORD) as s:
        s.add_channel(chan(1, longitude=121.01, latitude=31.21))
        s.add_channel(chan(2, online=False))
        yield s


def client_for(sim: WvpSimulator, password: str = PASSWORD, login_retry_s: float = 10.0) -> WvpClient:
    return WvpClient(GatewayAccess("gw-1", "wvp", sim.url, "admin", password), login_retry_s=login_retry_s)


def test_md5_is_what_wvp_takes() -> None:
    assert password_md5("admin") == "21232f297a57a5a743894a0e4a801fc3"


def test_devices_channels_and_play(sim: WvpSimulator) -> None:
    with client_for(sim) as client:
        [device] = client.devices()
        assert (device.device_id, device.online) == (DEV, True)
        one, two = client.channels(DEV)
        assert (one.channel_id, one.name, one.online, one.longitude, one.latitude) == (
            "34020000001310000001",
            "通道 1",
            True,
            121.01,
            31.21,
        )
        assert (two.online, two.longitude) == (False, None)
        play = client.play(DEV, one.channel_id)
        assert play.rtsp == f"rtsp://127.0.0.1:{sim.media_port}/cam/CAM-0001/sub"
        assert play.stream == f"{DEV}_{one.channel_id}"
        client.stop(DEV, one.channel_id)
    assert sim.logins == 1
    assert sim.play_starts == sim.play_stops == [(DEV, one.channel_id)]


def test_channels_are_read_page_by_page(sim: WvpSimulator) -> None:
    for n in range(3, PAGE_SIZE + 40):
        sim.add_channel(chan(n))
    with client_for(sim) as client:
        ids = [c.channel_id for c in client.channels(DEV)]
    assert len(ids) == len(set(ids)) == PAGE_SIZE + 39


def test_an_expired_token_is_renewed_once_and_the_call_repeated(sim: WvpSimulator) -> None:
    with client_for(sim) as client:
        client.devices()
        sim.expire_tokens()
        assert [d.device_id for d in client.devices()] == [DEV]
        assert client.logins == sim.logins == 2


def test_a_token_refused_right_after_login_is_an_error_naming_it(sim: WvpSimulator) -> None:
    sim.token_ttl_s = 0.0  # every token is expired when it is made
    with client_for(sim) as client, pytest.raises(GatewayError) as caught:
        client.devices()
    assert caught.value.fault is GatewayFault.LOGIN
    assert "GB28181 网关 gw-1 登录失败" in str(caught.value)
    assert "a fresh token was refused too (HTTP 401)" in str(caught.value)


def test_a_wrong_password_is_refused_once_not_for_every_camera(sim: WvpSimulator) -> None:
    with client_for(sim, "wrong-pass", login_retry_s=60.0) as client:
        for _ in range(3):
            with pytest.raises(GatewayError) as caught:
                client.play(DEV, "34020000001310000001")
            assert caught.value.fault is GatewayFault.LOGIN
    text = str(caught.value)
    assert text.startswith("GB28181 网关 gw-1 登录失败 (login refused)")
    assert 'user "admin"' in text
    assert "用户名或密码错误" in text
    assert "wrong-pass" not in text
    assert password_md5("wrong-pass") not in text
    assert sim.login_attempts == 1  # the refusal was remembered
    assert sim.play_starts == []


def test_an_unreachable_gateway_is_named(sim: WvpSimulator) -> None:
    sim.stop()
    with client_for(sim) as client, pytest.raises(GatewayError) as caught:
        client.devices()
    assert caught.value.fault is GatewayFault.UNREACHABLE
    assert str(caught.value).startswith(f"GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}: POST /api/user/login")
    sim.start()  # back on the same port: the same client works again
    with client_for(sim) as client:
        assert len(client.devices()) == 1


@pytest.mark.parametrize(
    ("device", "channel", "message"),
    [
        (DEV, "34020000001310000002", "code 100 点播超时"),  # the channel is offline: the INVITE times out
        ("34020000001320000999", "34020000001310000001", "code 100 设备不存在"),
        (DEV, "34020000001310000999", "code 100 通道不存在"),
    ],
)
def test_a_refused_play_says_what_the_gateway_said(sim: WvpSimulator, device: str, channel: str, message: str) -> None:
    with client_for(sim) as client, pytest.raises(GatewayError) as caught:
        client.play(device, channel)
    assert caught.value.fault is GatewayFault.REFUSED
    assert f"GET /api/play/start/{device}/{channel}: {message} (HTTP 200)" in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"latitude": "north"}, 'data.list[1].latitude "north" is not a number'),
        ({"deviceId": None}, "data.list[1].deviceId is missing"),
        ({"status": "maybe"}, "data.list[1].status 'maybe' is not a status (ON/OFF, true/false, 1/0)"),
    ],
)
def test_a_malformed_channel_names_the_field(sim: WvpSimulator, extra: dict[str, object], where: str) -> None:
    sim.channels[(DEV, "34020000001310000002")].extra = extra
    with client_for(sim) as client, pytest.raises(GatewayError) as caught:
        client.channels(DEV)
    assert caught.value.fault is GatewayFault.MALFORMED
    assert f"GET /api/device/query/devices/{DEV}/channels page 1: {where}" in str(caught.value)
