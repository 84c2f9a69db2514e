"""The object detector: ultralytics YOLO weights run on PyTorch, ONNX Runtime or OpenVINO.

`config` says what to load and how to run it, `exports` makes and finds the cached ONNX/OpenVINO exports,
`int8` calibrates and checks their INT8 versions, `tensors` and `runners` turn pictures into predictions on
each backend, and `detector` puts these together behind `Detector.detect`.
"""
