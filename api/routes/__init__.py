"""One router per feature; `api.app` includes them all."""
