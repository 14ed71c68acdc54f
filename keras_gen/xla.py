"""`--jit-compile auto`: XLA for a model where it was measured faster on this kind of device.

XLA's fused kernels help some networks and hurt others, and the answer changes with the
device: on these CPUs (oneDNN convolutions) XLA slowed DCGAN to 0.67x, while on GPUs it usually
gains. So `auto` reads a table measured per device kind and model, `keras_gen/xla_table.json`,
written by `python benchmarks/jit_table.py --write` on that device (docs/BENCHMARKS.md shows it):

    {"cpu": {"dcgan": {"plain": 373.6, "xla": 250.6, "speedup": 0.67}, ...},
     "NVIDIA H100 80GB HBM3": {...}}                 images/s of fit's train step, without and with XLA

XLA is turned on where its speedup is at least `MIN_SPEEDUP` (compiling must pay for itself) and
off where it was slower or failed to compile (`{"error": ...}`). A device kind or model the
table has not measured falls back to Keras' own rule (XLA on a GPU, not on a CPU), and the run
says so.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("xla_table.json")
MIN_SPEEDUP = 1.05


@lru_cache(maxsize=None)
def load_table(path: str | None = None) -> dict:
    path = Path(path) if path else TABLE_PATH
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def device_kind() -> str:
    """"cpu", or the first GPU's name as CUDA reports it ("NVIDIA H100 80GB HBM3"): the kind of
    device a step runs on, the table's key."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "cpu"
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name") or "gpu")


def decide(model: str, jit_compile, kind: str | None = None, table: dict | None = None) -> tuple[bool, str]:
    """(XLA on?, why) for `model` with `--jit-compile jit_compile` (True, False or "auto") on a
    device of `kind` (this process's by default)."""
    if jit_compile is not None and jit_compile != "auto":
        return bool(jit_compile), "asked for (--jit-compile)"
    kind = device_kind() if kind is None else kind
    table = load_table() if table is None else table
    row = table.get(kind, {}).get(model)
    if row is None:
        on = kind != "cpu"
        return on, (f"{kind} has no measurement for {model} in keras_gen/xla_table.json: Keras' rule, XLA "
                    f"{'on a GPU' if on else 'off on a CPU'} (measure it: python benchmarks/jit_table.py --write)")
    if "error" in row:
        return False, f"XLA failed to compile {model} on {kind} when measured"
    speedup = float(row["speedup"])
    on = speedup >= MIN_SPEEDUP
    return on, f"measured {speedup:.2f}x with XLA for {model} on {kind}"
