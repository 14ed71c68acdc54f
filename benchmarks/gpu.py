"""The GPU benchmark (issue 30, part 8): training images/s in float32, mixed precision and with XLA,
the share of the device's peak FLOP/s each reaches, and serving latency of onnxruntime on CUDA
beside the SavedModel, in one table. benchmarks/gpu.sh runs it (under 8 minutes on one GPU).

    benchmarks/gpu.sh                       # on a GPU: the full sizes below
    benchmarks/gpu.sh --tiny                # anywhere: tiny sizes, to check the script runs (CPU here)
    python benchmarks/gpu.py --json benchmarks/out/gpu.json --budget-s 450

Networks (each at the size the issue names; `--tiny` shrinks them all to 16 px and a few filters):

    dcgan     the registered DCGAN at 64 px, 3 channels, base_filters 64, batch 512
    stylegan  the registered StyleGAN at 64 px, 3 channels, batch 64
    ddpm      the registered DDPM (U-Net) at 32 px, 3 channels, batch 128
    srresnet  an SRResNet-sized network (Ledig et al. 2017: 16 residual blocks of 64 filters with
              batch norm, x4 upsampling in two x2 stages), 24 -> 96 px, MSE, Adam, batch 64: a plain
              Keras model, so the row does not wait for a registered super-resolution model

Configurations: float32 (on Ampere and later TensorFlow runs float32 matmuls and convolutions on
TF32 tensor cores by default), mixed precision (mixed_float16 with loss scaling on a GPU; on a CPU
mixed_bfloat16, float16 being emulated there) and float32 with XLA. Each is timed as
`keras-gen train` steps it (fit, a compiled train_step) on an in-memory batch: median of repeats
after a warm-up that absorbs tracing and compilation.

FLOPs are counted per training step from the traced train_step graph (TensorFlow's profiler:
convolutions, their two gradients and matmuls, 2 FLOPs per multiply-add); achieved FLOP/s =
FLOPs per step x steps/s; the share is of the device's dense peak for the precision (PEAKS,
from the vendors' data sheets; float32 against TF32 where TensorFlow uses it). A device not in
PEAKS, or a CPU, shows no share.

Serving: the DCGAN generator exported as `keras-gen export` does (parity checked), latents ->
images at batch 1 and 64, median of interleaved calls: the SavedModel's signature and
onnxruntime's session (the edge runner's), on CUDA when it really loads. Any figure that was not
measured on a GPU says so in the table ("not measured: no GPU"); nothing is estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.scale_common import synthetic_batch  # noqa: E402

# Dense peak FLOP/s per device (the first name that is a substring of CUDA's device name wins):
# float32 = the TF32 tensor-core rate on Ampere and later (TensorFlow's default for float32
# matmuls and convolutions), the plain FP32 rate before; float16/bfloat16 = dense tensor cores.
PEAKS = (
    ("H200", {"float32": 494.7e12, "mixed": 989.4e12}),
    ("H100 PCIe", {"float32": 378.0e12, "mixed": 756.0e12}),
    ("H100", {"float32": 494.7e12, "mixed": 989.4e12}),  # SXM / HBM3
    ("A100", {"float32": 156.0e12, "mixed": 312.0e12}),
    ("L40S", {"float32": 183.0e12, "mixed": 362.0e12}),
    ("L4", {"float32": 60.0e12, "mixed": 121.0e12}),
    ("A10", {"float32": 62.5e12, "mixed": 125.0e12}),
    ("V100", {"float32": 15.7e12, "mixed": 125.0e12}),
    ("T4", {"float32": 8.1e12, "mixed": 65.0e12}),
)
NOT_MEASURED = "not measured: no GPU"

FULL = {
    "dcgan": dict(image_size=64, channels=3, batch=512, options={"base_filters": 64, "latent_dim": 100}),
    "stylegan": dict(image_size=64, channels=3, batch=64, options={}),
    "ddpm": dict(image_size=32, channels=3, batch=128, options={}),
    "srresnet": dict(image_size=24, channels=3, batch=64, options={"blocks": 16, "filters": 64}),
}
TINY = {
    "dcgan": dict(image_size=16, channels=1, batch=8, options={"base_filters": 4, "latent_dim": 8}),
    "stylegan": dict(image_size=8, channels=1, batch=8, options={"latent_dim": 8, "w_dim": 8, "mapping_layers": 2,
                                                                  "base_filters": 4, "max_filters": 8}),
    "ddpm": dict(image_size=8, channels=1, batch=8, options={"timesteps": 10, "filters": 8,
                                                              "channel_multipliers": "1,2", "blocks": 1}),
    "srresnet": dict(image_size=8, channels=1, batch=8, options={"blocks": 2, "filters": 8}),
}


def peak_flops(device: str, precision: str) -> float | None:
    for name, peaks in PEAKS:
        if name in device:
            return peaks["mixed" if precision.startswith("mixed") else "float32"]
    return None


def srresnet_sized(image_size: int, channels: int, blocks: int, filters: int):
    """SRResNet's generator at its published size (Ledig et al., 2017, fig. 4): a 9x9 conv, `blocks`
    residual blocks (conv-BN-PReLU-conv-BN + skip), a conv-BN with the long skip, two x2
    upsampling stages (nearest x2 then a 3x3 conv of `filters`: the FLOPs of the paper's sub-pixel
    conv to 4 x filters channels), a 9x9 conv to the image. MSE to the high-resolution target."""
    import keras
    from keras import layers

    low = keras.Input((image_size, image_size, channels))
    x = layers.Conv2D(filters, 9, padding="same")(low)
    x = skip = layers.PReLU(shared_axes=[1, 2])(x)
    for _ in range(blocks):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        y = layers.BatchNormalization()(y)
        y = layers.PReLU(shared_axes=[1, 2])(y)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        x = layers.Add()([x, y])
    x = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(x))
    x = layers.Add()([x, skip])
    for _ in range(2):
        x = layers.UpSampling2D(2)(x)
        x = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(filters, 3, padding="same")(x))
    out = layers.Conv2D(channels, 9, padding="same", activation="tanh", dtype="float32")(x)
    model = keras.Model(low, out, name="srresnet_sized")
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    return model


def build(name: str, size: dict, precision: str):
    import keras

    from keras_gen import registry
    from keras_gen.distribute import precision_policy

    with precision_policy(precision):
        keras.utils.set_random_seed(0)
        if name == "srresnet":
            model = srresnet_sized(size["image_size"], size["channels"], **size["options"])
            rng = np.random.default_rng(0)
            low = rng.uniform(-1, 1, (size["batch"], size["image_size"], size["image_size"], size["channels"]))
            high = rng.uniform(-1, 1, (size["batch"], 4 * size["image_size"], 4 * size["image_size"],
                                       size["channels"]))
            return model, (low.astype("float32"), high.astype("float32"))
        model = registry.build(name, image_size=size["image_size"], channels=size["channels"], **size["options"])
        model.compile()
        return model, synthetic_batch(model, size["batch"])


def step_flops(model, batch) -> float:
    """FLOPs of one training step: the profiler's float-operation count of the traced train_step."""
    import tensorflow as tf

    specs = tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, tf.as_dtype(a.dtype)), batch)
    graph = tf.function(model.train_step).get_concrete_function(specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)


def train_rate(model, batch, steps: int, repeats: int, jit_compile: bool) -> dict:
    import tensorflow as tf

    model.jit_compile = jit_compile
    model.make_train_function(force=True)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    rows = len(tf.nest.flatten(batch)[0])
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # tracing, XLA compilation
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    step_s = statistics.median(seconds) / steps
    return {"images_per_s": rows / step_s, "step_ms": step_s * 1e3}


def serving_rows(size: dict, on_gpu: bool, repeats: int) -> list[dict]:
    """The DCGAN generator exported (parity checked), latents -> images at batch 1 and 64."""
    import tensorflow as tf

    from export import export_model
    from keras_gen import registry
    from keras_gen.core.edge import make_session, run_onnx

    model = registry.build("dcgan", image_size=size["image_size"], channels=size["channels"], **size["options"])
    name = next(k for k, ep in model.export_endpoints().items() if ep.onnx)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kg-gpu-bench-") as tmp:
        version = export_model(model, tmp, name="bench", training_info={"data": "digits", "seed": 0}, parity_n=8)
        signature = tf.saved_model.load(str(version)).signatures[name]
        session = make_session(version / "model.onnx")  # CUDA when it really loads, else CPU
        provider = session.get_providers()[0]
        for batch in (1, 64):
            feeds = {k: np.asarray(v) for k, v in model.parity_inputs(batch, seed=0).items()}
            tf_feeds = {k: tf.constant(v) for k, v in feeds.items()}
            calls = {"SavedModel signature": lambda f=tf_feeds: signature(**f)["images"].numpy(),
                     f"onnxruntime ({provider.replace('ExecutionProvider', '')})": lambda f=feeds: run_onnx(session, f)}
            times = {label: [] for label in calls}
            for call in calls.values():
                for _ in range(3):
                    call()  # warm-up: cuDNN autotuning, allocations
            for _ in range(repeats):  # interleaved, so load hits both alike
                for label, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[label].append(time.perf_counter() - start)
            base = statistics.median(times["SavedModel signature"])
            for label, values in times.items():
                median = statistics.median(values)
                rows.append({"network": f"dcgan {size['image_size']} px generator", "configuration": f"serve: {label}",
                             "batch": batch, "images_per_s": batch / median, "ms": median * 1e3,
                             "ratio": base / median, "cuda": "CUDA" in label})
    return rows


class TimeUp(BaseException):
    """gpu.sh's 8-minute limit arrived (SIGTERM from `timeout`): print what was measured. Not an
    Exception: a row's own `except Exception` must not take it for that row's failure."""


def _time_up(signum, frame):
    raise TimeUp()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny networks (checks the script; runs on a CPU)")
    parser.add_argument("--networks", default="dcgan,stylegan,ddpm,srresnet")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat (default 20, tiny 3)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="rows not started by then are reported as skipped (gpu.sh stops it at 8 minutes)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from benchmarks.scale_common import device_name

    started = time.time()
    signal.signal(signal.SIGTERM, _time_up)
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = device_name()
    sizes = TINY if args.tiny else FULL
    steps = args.steps or (3 if args.tiny else 20)
    mixed = "mixed_float16" if on_gpu else "mixed_bfloat16"
    configs = (("float32", "float32", False), (mixed, mixed, False), ("float32 + XLA", "float32", True))
    print(f"keras-gen GPU benchmark on {device}, TF {tf.__version__}{' (tiny sizes)' if args.tiny else ''}",
          flush=True)

    rows, stopped = [], False
    try:
        for name in args.networks.split(","):
            size = sizes[name]
            base = None
            for label, precision, jit in configs:
                row = {"network": f"{name} {size['image_size']} px", "configuration": label, "batch": size["batch"]}
                if time.time() - started > args.budget_s:
                    rows.append({**row, "skipped": "time budget"})
                    continue
                try:
                    model, batch = build(name, size, precision)
                    flops = step_flops(model, batch)
                    row.update(train_rate(model, batch, steps, args.repeats, jit), flops=flops)
                except Exception as err:  # noqa: BLE001 - a configuration that fails is a result, said in its row
                    rows.append({**row, "skipped": f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"})
                    continue
                base = base or row["images_per_s"]
                achieved = flops * row["images_per_s"] / size["batch"]
                peak = peak_flops(device, precision) if on_gpu else None
                row.update(ratio=row["images_per_s"] / base, tflops=achieved / 1e12,
                           peak_share=achieved / peak if peak else None)
                rows.append(row)
                print(f"  {row['network']} {label}: {row['images_per_s']:.1f} images/s", flush=True)
        if time.time() - started <= args.budget_s:
            try:
                rows += serving_rows(sizes["dcgan"], on_gpu, repeats=10 if args.tiny else 50)
            except Exception as err:  # noqa: BLE001
                rows.append({"network": "dcgan generator", "configuration": "serve", "batch": "1, 64",
                             "skipped": f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"})
        else:
            rows.append({"network": "dcgan generator", "configuration": "serve", "batch": "1, 64", "skipped": "time budget"})
    except TimeUp:
        stopped = True
        done = {(r["network"].split()[0], r["configuration"]) for r in rows}
        for name in args.networks.split(","):
            for label, _, _ in configs:
                if (name, label) not in done:
                    rows.append({"network": f"{name} {sizes[name]['image_size']} px", "configuration": label,
                                 "batch": sizes[name]["batch"], "skipped": "stopped at gpu.sh's 8-minute limit"})
        if not any(r["configuration"].startswith("serve") for r in rows):
            rows.append({"network": "dcgan generator", "configuration": "serve", "batch": "1, 64",
                         "skipped": "stopped at gpu.sh's 8-minute limit"})
    print(f"\n{device}, TF {tf.__version__}, {time.time() - started:.0f} s"
          + ("" if on_gpu else f"; GPU figures {NOT_MEASURED} (this ran on a CPU)"))
    print("\n| network | configuration | batch | images/s | ms / step or call | vs float32 or SavedModel | "
          "GFLOP / step | TFLOP/s | share of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if "skipped" in row:
            print(f"| {row['network']} | {row['configuration']} | {row['batch']} | skipped ({row['skipped']}) "
                  f"| | | | | |")
            continue
        serving = "flops" not in row
        share = ("n/a" if serving else f"{row['peak_share']:.1%}" if row.get("peak_share") is not None
                 else "unknown peak" if on_gpu else NOT_MEASURED)
        ms = row["ms"] if serving else row["step_ms"]
        gflop = "" if serving else f"{row['flops'] / 1e9:.3g}"
        tflops = "" if serving else f"{row['tflops']:.3g}"
        print(f"| {row['network']} | {row['configuration']}{'' if on_gpu else ' (CPU)'} | {row['batch']} | "
              f"{row['images_per_s']:.1f} | {ms:.2f} | {row['ratio']:.2f}x | {gflop} | {tflops} | {share} |")
    if not on_gpu:
        print(f"\nNo GPU: every row above ran on the CPU; GPU images/s, shares of peak and CUDA latency are "
              f"{NOT_MEASURED}.")
    result = {"device": device, "gpu": on_gpu, "tiny": args.tiny, "seconds": time.time() - started, "rows": rows}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    if stopped:  # TensorFlow's threads may still run the interrupted step: do not wait for them
        sys.stdout.flush()
        os._exit(3)
    return result


if __name__ == "__main__":
    main()
    # Exit now: TensorFlow's input threads (repeated in-memory datasets) can hold the interpreter's
    # exit past gpu.sh's limit after the table is printed.
    sys.stdout.flush()
    os._exit(0)
