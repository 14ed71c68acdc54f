"""`keras-gen export RUN`: export a run to SavedModel + ONNX + manifest in TF Serving's layout,
and print the parity figures the export measured (and the ONNX variants it wrote or refused).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from keras_gen.commands.common import quiet_tensorflow


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a run to SavedModel + ONNX + manifest (TF Serving layout)")
    p.add_argument("run")
    p.add_argument("--out", default="exports")
    p.add_argument("--name", default=None, help="model name in the repository (default: the model's)")
    p.add_argument("--version", type=int, default=None, help="version number (default: next free)")
    p.add_argument("--weights", default="auto", choices=("auto", "ema", "raw"),
                   help="export the EMA of the weights (auto: when the model kept one) or the raw weights")
    p.add_argument("--onnx-variants", default="", metavar="fp16,int8",
                   help="also write NAME.fp16.onnx / NAME.int8.onnx, each measured (size, parity, domain FID) and "
                        "refused when it moves the FID by more than 10%%")
    p.set_defaults(func=run)


def run(args) -> int:
    quiet_tensorflow()
    from export import export_model
    from keras_gen.runs import load_run, run_summary

    model, config = load_run(args.run)
    summary = run_summary(args.run)
    training_info = {k: summary.get(k) for k in
                     ("model", "options", "data", "data_dir", "image_size", "channels", "batch_size", "seed",
                      "epochs_done", "train_steps", "last_logs")}
    training_info["run"] = Path(args.run).resolve().name  # the run's name; its location is the user's business
    version_dir = export_model(model, args.out, name=args.name or config["model"], version=args.version,
                               training_info=training_info, weights=args.weights, onnx_variants=args.onnx_variants)
    manifest = json.loads((Path(version_dir) / "manifest.json").read_text())
    print(f"exported {config['model']} ({manifest['metadata']['weights']} weights) to {version_dir}")
    parity = manifest["parity"]
    print(f"  parity on {parity['n']} inputs (max abs difference of float outputs, limit {parity['atol']:g}):")
    for output, pairs in parity["outputs"].items():
        for pair, value in pairs.items():
            print(f"    {output}: {pair.replace('_vs_', ' vs '):28s} {value:.3g}")
    for endpoint, outputs in parity.get("endpoints", {}).items():  # extra endpoints on onnxruntime
        dtypes = {o["name"]: o["dtype"] for o in manifest["endpoints"][endpoint]["outputs"]}
        for output, pairs in outputs.items():
            print(f"    {endpoint} {output}: " + ", ".join(f"{k.replace('_vs_', ' vs ')} {v:.3g}" for k, v in pairs.items())
                  + (" (uint8 levels)" if dtypes.get(output) == "uint8" else ""))
    sample = parity["sample"]
    print(f"  sample(n={parity['n']}, seed={parity['seed']}, conditions: {', '.join(sample['conditions']) or 'none'}), "
          f"uint8: SavedModel vs onnxruntime edge {sample['savedmodel_vs_edge']['max_abs_diff']}, "
          f"SavedModel vs Keras {sample['savedmodel_vs_keras']['max_abs_diff']}")
    for variant, entry in sorted((manifest.get("onnx_variants") or {}).items()):
        if not isinstance(entry, dict):
            continue
        if entry["status"] == "refused":
            print(f"  {entry['reason']}", file=sys.stderr)
            continue
        fid = entry.get("fid") or {}
        print(f"  {variant}: {entry['size']} bytes ({entry['size_ratio']:.0%} of float32), max abs diff "
              f"{entry['max_abs_diff']:.3g}, " + (f"domain FID {fid['variant']:.4g} vs float32 {fid['float32']:.4g} "
                                                   f"({fid['relative_change']:+.1%})" if "variant" in fid
                                                   else f"no FID: {fid.get('unavailable')}"))
    print(f"  files: {', '.join(sorted(manifest['files']))}")
    return 0
