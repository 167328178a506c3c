"""Shipped ONNX models and their model cards (a data package: ``biodae.models``).

See ``README.md`` here and ``docs/onnx.md``; load a model with
``biodae.runtime.load_model("ecg")``.
"""
