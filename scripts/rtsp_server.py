#!/usr/bin/env python3
"""gridwatch's footage server: the real footage over real RTSP, for the demo, the tests and the benchmarks.

Runs under Debian's system Python (python3-gi does not import in a virtual environment) with
GStreamer's RTSP server. The footage is encoded once into a cache (H.264, 25 fps, one keyframe per
second, no B-frames, MPEG-TS) and then served from memory without re-encoding, looping seamlessly,
so dozens of concurrent clients cost the server little CPU.

Mount points (every clip mount is shared: one feed, fanned out to all its clients):
    /vtest-360p  /vtest-1080p   vtest.avi (pedestrians), 640×360 and 1920×1080
    /tree                       tree.avi (a swaying tree: motion without people), 640×360
    /still                      a quiet scene: vtest's first picture held, with a camera's faint sensor noise,
                                640×360 (10 s, looping)
    /pattern                    a live test pattern (moving ball), encoded live, 640×360
    /audio-only                 PCMA audio without video (a stream ingest cannot analyse)
    /cam/<id>/sub, /cam/<id>/main
                                per-camera paths as `gridwatch site generate` writes them:
                                sub → vtest-360p, main → vtest-1080p (shared with those mounts)
    --clip /path=FILE.ts        any H.264 MPEG-TS file (no B-frames), looping at its own frame rate

    /usr/bin/python3 scripts/rtsp_server.py [--port 8554] [--auth /vtest-360p=demo:demo-pass] [--clip /live=x.ts]
    /usr/bin/python3 scripts/rtsp_server.py --prepare-only     # just fill the cache

Prints "ready rtsp://127.0.0.1:PORT" on standard output once it accepts connections.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FPS = 25
TICK_MS = 10


@dataclass(frozen=True)
class Variant:
    footage: str
    width: int
    height: int
    maxrate: str
    hold_first_s: float = 0.0
    """Hold the footage's first picture this long instead of playing it (a still scene), with sensor noise."""


VARIANTS = {
    "vtest-360p": Variant("vtest.avi", 640, 360, "800k"),
    "vtest-1080p": Variant("vtest.avi", 1920, 1080, "4M"),
    "tree": Variant("tree.avi", 640, 360, "800k"),
    "still": Variant("vtest.avi", 640, 360, "800k", hold_first_s=10.0),
}
CAMERA_ROLES = {"sub": "vtest-360p", "main": "vtest-1080p"}


# ------------------------------------------------------------------------------------------ cache


def encode(name: str, footage_dir: Path, cache_dir: Path) -> Path:
    """Encode one variant into the cache unless it is there (safe when several processes race)."""
    v = VARIANTS[name]
    out = cache_dir / f"{name}.ts"
    if out.exists():
        return out
    src = footage_dir / v.footage
    if not src.is_file():
        raise SystemExit(f"rtsp_server: footage {src} is missing (scripts/setup.sh fetches it)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.exists():
            return out
        # Keep the whole picture (pillarbox to 16:9); blend to 25 fps so every frame differs, like a camera.
        # Capped constant quality, as cameras in VBR mode encode: a plain bitrate target would spend the
        # budget this calm footage leaves over on oversized keyframes.
        scaled_w = v.height * 4 // 3
        vf = f"framerate=fps={FPS},scale={scaled_w}:{v.height},pad={v.width}:{v.height}:(ow-iw)/2:0,format=yuv420p"
        if v.hold_first_s:
            frames = round(v.hold_first_s * FPS)
            vf = (
                f"trim=end_frame=1,loop=loop={frames - 1}:size=1:start=0,setpts=N/{FPS}/TB,fps={FPS},"
                f"scale={scaled_w}:{v.height},pad={v.width}:{v.height}:(ow-iw)/2:0,format=yuv420p,noise=alls=3:allf=t"
            )
        tmp = out.with_suffix(".part")
        cmd = [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vf", vf,
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0",
            "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
            "-crf", "23", "-maxrate", v.maxrate, "-bufsize", v.maxrate,
            "-an", "-f", "mpegts", str(tmp),
        ]  # fmt: skip
        print(f"rtsp_server: encoding {src.name} → {out.name} (once)", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, timeout=600)
        tmp.rename(out)
    return out


@dataclass(frozen=True)
class AccessUnit:
    data: bytes
    keyframe: bool


@dataclass(frozen=True)
class Clip:
    units: list[AccessUnit]
    fps: Fraction


def load_clip(path: Path) -> Clip:
    """The clip's H.264 access units in decode order, SPS/PPS repeated before every keyframe, and its rate."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! tsdemux ! h264parse config-interval=-1 '
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units: list[AccessUnit] = []
    fps = Fraction(FPS)
    try:
        while True:
            sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
            if sample is None:
                break
            buf = sample.get_buffer()
            if not units:
                found, num, den = sample.get_caps().get_structure(0).get_fraction("framerate")
                if found and num > 0 and den > 0:
                    fps = Fraction(num, den)
            units.append(AccessUnit(buf.extract_dup(0, buf.get_size()), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
    finally:
        pipeline.set_state(Gst.State.NULL)
    first_key = next((i for i, u in enumerate(units) if u.keyframe), None)
    if first_key is None:
        raise SystemExit(f"rtsp_server: {path} holds no keyframe")
    return Clip(units[first_key:], fps)


# ------------------------------------------------------------------------------------------ feeds


class Feed:
    """Pushes one clip into one media's appsrc at the clip's frame rate, looping, from the main loop's ticker."""

    def __init__(self, clip: Clip, appsrc: Gst.Element) -> None:
        self.units = clip.units
        self.frame_s = float(1 / clip.fps)
        self.appsrc = appsrc
        self.index = 0
        self.next_due = time.monotonic()

    def tick(self, now: float) -> None:
        if self.appsrc.current_state != Gst.State.PLAYING:
            # A shared media without clients is paused: pushing now would queue stale frames for the next one.
            self.next_due = now
            return
        if now - self.next_due > 1.0:  # the process was stopped (SIGSTOP) or starved: carry on from now
            self.next_due = now
        while self.next_due <= now:
            unit = self.units[self.index]
            buf = Gst.Buffer.new_wrapped(unit.data)
            buf.duration = int(Gst.SECOND * self.frame_s)
            if not unit.keyframe:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            self.appsrc.emit("push-buffer", buf)
            self.index = (self.index + 1) % len(self.units)
            self.next_due += self.frame_s


class Feeds:
    def __init__(self) -> None:
        self.active: set[Feed] = set()
        GLib.timeout_add(TICK_MS, self._tick)

    def _tick(self) -> bool:
        now = time.monotonic()
        for feed in list(self.active):
            feed.tick(now)
        return True


class ClipFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """A shared, looping clip; every path it is mounted on shares the one media (and its feed)."""

    def __init__(self, name: str, clips: dict[str, Clip], feeds: Feeds) -> None:
        super().__init__()
        self.clip_name = name
        self.clips = clips
        self.feeds = feeds
        self.set_shared(True)
        fps = clips[name].fps
        self.set_launch(
            "( appsrc name=src is-live=true format=time do-timestamp=true min-latency=0 "
            f'caps="video/x-h264,stream-format=byte-stream,alignment=au,framerate={fps.numerator}/{fps.denominator}" '
            f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        self.connect("media-configure", self._configure)

    def do_gen_key(self, url: GstRtspServer.RTSPUrl) -> str:
        return f"clip:{self.clip_name}"

    def _configure(self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        feed = Feed(self.clips[self.clip_name], media.get_element().get_by_name("src"))
        self.feeds.active.add(feed)
        media.connect("unprepared", lambda _m: self.feeds.active.discard(feed))


class MountAuth(GstRtspServer.RTSPAuth):  # type: ignore[misc]
    """Basic auth on some mounts only: a protected mount answers 401 (not 404) until the right user calls."""

    def __init__(self, roles: dict[str, str]) -> None:
        super().__init__()
        self.roles = roles  # mount path → the role its credentials grant

    def do_authenticate(self, ctx: GstRtspServer.RTSPContext) -> bool:
        if not GstRtspServer.RTSPAuth.do_authenticate(self, ctx):
            return False
        path = ctx.uri.abspath if ctx.uri is not None else ""
        role = next((r for p, r in self.roles.items() if path == p or path.startswith(p + "/")), None)
        if role is None:
            return True
        granted = ctx.token.get_string("media.factory.role") if ctx.token is not None else None
        return granted == role


def add_roles(factory: GstRtspServer.RTSPMediaFactory, roles: list[str]) -> None:
    for role in roles:
        s = Gst.Structure.new_from_string(
            f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )
        factory.add_role_from_structure(s)


def main() -> int:
    p = argparse.ArgumentParser(description="gridwatch's footage server: real footage over RTSP, looping, H.264.")
    p.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1 (default 8554)")
    p.add_argument("--footage", type=Path, default=REPO / ".cache" / "footage", help="where vtest.avi, tree.avi are")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "rtsp", help="where the encoded clips are kept")
    p.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="PATH=USER:PASSWORD",
        help="require basic auth on a mount (repeatable), e.g. /vtest-360p=demo:demo-pass",
    )
    p.add_argument("--cameras", type=int, default=64, help="per-camera mounts /cam/CAM-NNNN/{sub,main} to add")
    p.add_argument("--camera-ids", default="", help="comma-separated extra camera ids to mount under /cam/")
    p.add_argument(
        "--clip",
        action="append",
        default=[],
        metavar="PATH=FILE",
        help="also serve an H.264 MPEG-TS file (no B-frames) on a mount, looping (repeatable), e.g. /live=clip.ts",
    )
    p.add_argument("--prepare-only", action="store_true", help="encode the clips into the cache and exit")
    args = p.parse_args()

    Gst.init(None)
    paths = {name: encode(name, args.footage, args.cache) for name in VARIANTS}
    if args.prepare_only:
        return 0

    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    feeds = Feeds()
    # Loaded before accepting clients: loading inside a client's request would stall the main loop.
    clips = {name: load_clip(path) for name, path in paths.items()}
    extra: dict[str, str] = {}
    for spec in args.clip:
        path, _, file = spec.partition("=")
        if not path.startswith("/") or not Path(file).is_file():
            p.error(f"--clip must look like /path=FILE with an existing file, got {spec!r}")
        extra[path] = f"file:{file}"
        clips[extra[path]] = load_clip(Path(file))

    protected: dict[str, tuple[str, str]] = {}
    for spec in args.auth:
        path, _, cred = spec.partition("=")
        user, _, password = cred.partition(":")
        if not path.startswith("/") or not user:
            p.error(f"--auth must look like /path=user:password, got {spec!r}")
        protected[path] = (user, password)
    user_roles = [f"user{i}" for i in range(len(protected))]
    role_of: dict[str, str] = {}
    auth = MountAuth(role_of)
    anonymous = GstRtspServer.RTSPToken()
    anonymous.set_string("media.factory.role", "anonymous")
    auth.set_default_token(anonymous)
    for (path, (user, password)), role in zip(protected.items(), user_roles, strict=True):
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", role)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        role_of[path] = role
    server.set_auth(auth)

    def mount(path: str, factory: GstRtspServer.RTSPMediaFactory) -> None:
        add_roles(factory, [role_of[path]] if path in role_of else ["anonymous", *user_roles])
        mounts.add_factory(path, factory)

    factories: dict[str, ClipFactory] = {}
    for name in VARIANTS:
        factories[name] = ClipFactory(name, clips, feeds)
        mount(f"/{name}", factories[name])
    for path, name in extra.items():
        mount(path, ClipFactory(name, clips, feeds))
    camera_ids = [f"CAM-{i:04d}" for i in range(1, args.cameras + 1)]
    camera_ids += [c for c in args.camera_ids.split(",") if c]
    shared_by_cameras = {clip: ClipFactory(clip, clips, feeds) for clip in set(CAMERA_ROLES.values())}
    for factory in shared_by_cameras.values():
        add_roles(factory, ["anonymous", *user_roles])
    for cid in camera_ids:
        for role, clip in CAMERA_ROLES.items():
            mounts.add_factory(f"/cam/{cid}/{role}", shared_by_cameras[clip])

    pattern = GstRtspServer.RTSPMediaFactory()
    pattern.set_shared(True)
    pattern.set_launch(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=800 "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    mount("/pattern", pattern)
    audio = GstRtspServer.RTSPMediaFactory()
    audio.set_shared(True)
    audio.set_launch("( audiotestsrc is-live=true ! audio/x-raw,rate=8000 ! alawenc ! rtppcmapay name=pay0 pt=8 )")
    mount("/audio-only", audio)

    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    # Whoever started the server stops it; if that process dies without doing so (killed), the server
    # is re-parented and quits by itself instead of holding the port for the next run.
    parent = os.getppid()

    def orphaned() -> bool:
        if os.getppid() != parent:
            print("rtsp_server: the process that started it is gone; stopping", file=sys.stderr, flush=True)
            loop.quit()
            return False
        return True

    GLib.timeout_add_seconds(1, orphaned)
    print(f"ready rtsp://127.0.0.1:{args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
