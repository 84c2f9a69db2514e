"""A small RTSP server with basic auth for live-view tests: relays H.264 that arrives as RTP on a UDP port.

Runs under Debian's /usr/bin/python3 (python3-gi does not import in a venv):

    /usr/bin/python3 tests/api/rtsp_server.py PORT RTP_PORT USER PASSWORD

and is fed, looping a file in real time, by
``ffmpeg -re -stream_loop -1 -i FILE.ts -c copy -f rtp rtp://127.0.0.1:RTP_PORT``. The source is live,
so the server never tries to seek in it. It prints "ready" once it listens on 127.0.0.1:PORT at /live.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, rtp_port, user, password = sys.argv[1:5]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # SPS/PPS in band before every keyframe, as cameras send them; one pipeline shared by every client.
    caps = "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96"
    factory.set_launch(
        f'( udpsrc address=127.0.0.1 port={rtp_port} caps="{caps}" ! rtph264depay '
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role("viewer")
    permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/live", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
