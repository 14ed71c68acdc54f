"""The export stage: a trained model's endpoints -> a TF Serving version directory.

    EXPORTS/NAME/VERSION/saved_model.pb, variables/   SavedModel: `serving_default` + named endpoints
    EXPORTS/NAME/VERSION/model.onnx                   the ONNX endpoint, dynamic batch axis
    EXPORTS/NAME/VERSION/manifest.json                shapes, ranges, opset, parity, file hashes

`export_model` (in `export.exporter`) does the work. This package's `__init__` stays light
(no TensorFlow) because the serving path imports `export.manifest`.
"""

from __future__ import annotations

from export.manifest import read_manifest, verify_manifest, write_manifest


def export_model(model, out_dir, name=None, version=None, training_info=None, parity_n=64, atol=1e-4, opset=17):
    """Export `model` to OUT_DIR/NAME/VERSION and return that directory; see `export.exporter.export_model`."""
    from export.exporter import export_model as _export_model

    return _export_model(model, out_dir, name=name, version=version, training_info=training_info,
                         parity_n=parity_n, atol=atol, opset=opset)


__all__ = ["export_model", "read_manifest", "verify_manifest", "write_manifest"]
