"""gridwatch application shell: CLI, settings and wiring of the stages."""

import os

# Never let ultralytics reach for the network; set before any stage imports it.
os.environ.setdefault("YOLO_OFFLINE", "1")
