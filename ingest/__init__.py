"""ingest: camera streams in, the newest gated frame per camera out.

`ingest.worker.IngestWorker` is the entry point (apply, take_ready, health, stats); `ingest.types`
holds what crosses to the detectors (Frame, CameraHealth, CameraStats).
"""
