"""The export stage: a trained model's endpoints -> a TF Serving version directory.

    EXPORTS/NAME/VERSION/saved_model.pb, variables/   SavedModel: `serving_default` + named endpoints
    EXPORTS/NAME/VERSION/model.onnx                   the ONNX endpoint, dynamic batch axis
    EXPORTS/NAME/VERSION/model.fp16.onnx, .int8.onnx  with --onnx-variants (export/onnx_variants.py)
    EXPORTS/NAME/VERSION/manifest.json                shapes, ranges, opset, parity, file hashes

`export_model` (in `export.exporter`) does the work; the manifest format and the edge runner it
checks parity with live in `keras_gen.core.edge`, shared with serving. This package's `__init__`
stays light (no TensorFlow).
"""

from __future__ import annotations


def export_model(model, out_dir, **kwargs):
    """Export `model` to OUT_DIR/NAME/VERSION and return that directory; see `export.exporter.export_model`."""
    from export.exporter import export_model as _export_model

    return _export_model(model, out_dir, **kwargs)


__all__ = ["export_model"]
