"""The table `--jit-compile auto` reads (keras_gen/xla.py): each model's training images/s on this
kind of device without and with XLA, measured in the same process, back to back.

    python benchmarks/jit_table.py [--models dcgan,vae,...] [--image-size 32] [--batch-size 32]
                                   [--steps 5] [--repeats 3] [--write] [--json benchmarks/out/jit.json]

`--write` merges the rows into keras_gen/xla_table.json under this device's kind ("cpu", or the
GPU's name as CUDA reports it): a model measured again replaces its row, other rows and kinds stay.
A model XLA cannot compile is recorded as {"error": ...} (auto then leaves XLA off for it); a model
that cannot be built here (weights it would download) is skipped and recorded nowhere.
Each row says what was measured (image size, batch) and when.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale_common import build_model, device_name, train_images_per_s  # noqa: E402

DEFAULT_MODELS = "dcgan,wgan_gp,cdcgan,vae,autoencoder,ddpm,pixelcnn,stylegan"


def measure(name: str, args) -> dict | None:
    try:
        model = build_model(name, args.image_size, args.batch_size)
    except Exception as err:  # noqa: BLE001 - a model this machine cannot build is skipped, said why
        print(f"  {name}: skipped, cannot build it here ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
        return None
    plain = train_images_per_s(model, args.batch_size, args.steps, args.repeats, jit_compile=False)
    try:
        xla = train_images_per_s(model, args.batch_size, args.steps, args.repeats, jit_compile=True)
    except Exception as err:  # noqa: BLE001 - XLA's refusal is the measurement
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}", "plain": round(plain["images_per_s"], 1)}
    return {"plain": round(plain["images_per_s"], 1), "xla": round(xla["images_per_s"], 1),
            "speedup": round(xla["images_per_s"] / plain["images_per_s"], 3),
            "spread": round(max(plain["spread"], xla["spread"]), 3),
            "image_size": args.image_size, "batch_size": args.batch_size,
            "measured": datetime.date.today().isoformat()}


def write_rows(path: Path, kind: str, rows: dict) -> None:
    """Merge `rows` into the table at `path` under `kind` (other rows and kinds stay)."""
    table = json.loads(path.read_text()) if path.is_file() else {}
    table.setdefault(kind, {}).update(rows)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="merge the rows into keras_gen/xla_table.json")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import tensorflow as tf

    from keras_gen.xla import MIN_SPEEDUP, TABLE_PATH, device_kind

    kind = device_kind()
    print(f"XLA table on {device_name()} (kind {kind!r}), TF {tf.__version__}: {args.image_size} px, batch "
          f"{args.batch_size}, median of {args.repeats} x {args.steps} steps after a warm-up")
    rows = {}
    for name in args.models.split(","):
        row = measure(name, args)
        if row is not None:
            rows[name] = row
            print(f"  {name}: {json.dumps(row)}", flush=True)
            if args.write:  # row by row: a long measurement stopped half way keeps what it measured
                write_rows(TABLE_PATH, kind, {name: row})

    print(f"\n| model | images/s | images/s with XLA | speedup | auto (>= {MIN_SPEEDUP}x) |")
    print("|---|---:|---:|---:|---|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | {row['plain']:.1f} | fails to compile | - | off |")
        else:
            print(f"| {name} | {row['plain']:.1f} | {row['xla']:.1f} | {row['speedup']:.2f}x | "
                  f"{'on' if row['speedup'] >= MIN_SPEEDUP else 'off'} |")
    if args.write:
        print(f"\nwrote {len(rows)} row(s) for {kind!r} to {TABLE_PATH}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"device": kind, "args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
