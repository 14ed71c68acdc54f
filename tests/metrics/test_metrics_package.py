"""The package surface the CLI relies on: METRICS names, exports, and a TensorFlow-free import."""

import subprocess
import sys

import keras_gen.metrics as metrics


def test_metrics_table_lists_every_cli_name():
    assert list(metrics.METRICS) == ["fid", "kid", "is", "pr", "mem", "div", "psnr", "ssim", "bpd", "label_acc"]
    assert all(isinstance(text, str) and len(text) > 20 for text in metrics.METRICS.values())


def test_public_names_are_exported():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name


def test_importing_metrics_does_not_import_tensorflow():
    code = "import sys, keras_gen.metrics; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
