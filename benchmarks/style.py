"""Style benchmarks (issue 20, part 8), each table against a baseline measured in the same run:

  latency    the fast stylizer (fast_style, Johnson et al.'s widths unless --run gives a trained
             one) at 256/512/1024 px on Keras (a traced tf.function), the exported SavedModel
             and onnxruntime; ratios against Keras.
  gatys      seconds per optimisation step (one value and gradient of the Gatys objective, VGG
             conv1_1 .. conv5_1 + conv4_2, as L-BFGS calls it) at 256/512 px; and the speed-up of
             the fast network over optimisation to a comparable style loss: the Gatys objective
             judges the fast network's picture, and optimisation from the content image runs
             until its own style loss is as low (L-BFGS); speed-up = its seconds / one pass.
  adain      style and content losses (the Gatys objective: style normalised to the content
             image's, content MSE at conv4_2) of AdaIN (a trained run) and of Gatys optimisation
             (--gatys-steps L-BFGS steps) on the same content/style pairs, beside the content
             image itself (style 1, content 0: the floor of doing nothing).

    python benchmarks/style.py latency [--run runs/fast_style] [--sizes 256,512,1024] [--repeats 3]
    python benchmarks/style.py gatys --run runs/fast_style [--sizes 256,512] [--max-steps 200]
    python benchmarks/style.py adain --run runs/adain [--size 128] [--gatys-steps 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_gen import registry  # noqa: E402

PAIRS = [("photos:chelsea", "textures:brick"), ("photos:astronaut", "photos:immunohistochemistry"),
         ("photos:coffee", "textures:gravel")]


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, mean process CPU seconds: all threads) of `fn` over `repeats` calls
    after a warm-up call."""
    fn()  # warm-up: traces, allocations
    times, cpu_start = [], time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), (time.process_time() - cpu_start) / repeats


def _fast_model(run):
    if run:
        from keras_gen.runs import load_run

        return load_run(run)[0]
    return registry.build("fast_style", image_size=256, channels=3, styles="immunohistochemistry,brick")


def latency(args) -> None:
    import onnxruntime as ort

    from export import export_model

    model = _fast_model(args.run)
    channels, n = model.channels, model.num_styles
    with tempfile.TemporaryDirectory(prefix="style-bench-") as tmp:
        version = export_model(model, tmp, name="fast_style", training_info={"data": "none", "steps": 0})
        saved = tf.saved_model.load(str(version))
        signature = saved.signatures["generate"]
        session = ort.InferenceSession(str(Path(version) / "model.onnx"), providers=["CPUExecutionProvider"])
        keras_fn = tf.function(lambda x, w: model.transformer([x, w], training=False),
                               input_signature=[tf.TensorSpec([None, None, None, channels]), tf.TensorSpec([None, n])])
        print(f"fast_style latency, one image, median of {args.repeats} (after a warm-up); filters "
              f"{model.options.filters}, {model.options.residual_blocks} residual blocks")
        print(f"{'px':>6} {'Keras s':>9} {'SavedModel s':>13} {'onnxruntime s':>14} {'SM/Keras':>9} {'ORT/Keras':>10}")
        for size in args.sizes:
            x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, channels)).astype("float32")
            w = np.eye(n, dtype="float32")[:1]
            k = _timed(lambda: keras_fn(x, w), args.repeats)[0]
            s = _timed(lambda: signature(image=tf.constant(x), style=tf.constant(w)), args.repeats)[0]
            o = _timed(lambda: session.run(None, {"image": x, "style": w}), args.repeats)[0]
            print(f"{size:>6} {k:>9.3f} {s:>13.3f} {o:>14.3f} {s / k:>9.2f} {o / k:>10.2f}")


def _gatys_objective(content, style, extractor):
    from keras_gen.models.style import gatys

    objective = gatys.StyleObjective(extractor, content, [style], [1.0], gatys.StyleSettings())
    objective.calibrate(content[None])  # style loss 1 at the content image
    return objective


def _extractor():
    from keras_gen.features.vgg import vgg_extractor
    from keras_gen.models.style import gatys

    layers = tuple(dict.fromkeys(gatys.CONTENT_LAYERS + gatys.STYLE_LAYERS))
    return vgg_extractor("vgg19", layers, "auto", pooling="avg")


def _load_float(ref, size):
    """A bundled name (brick, photos:chelsea) or a file -> float32 (H, W, 3) in [-1, 1], longer side `size`."""
    from keras_gen.models.style import io

    return io.load_float(ref, size)[0]


def gatys_bench(args) -> None:
    from keras_gen.models.style import gatys

    extractor = _extractor()
    content_ref, style_ref = PAIRS[0]
    print("Gatys optimisation: seconds per step (one value + gradient, as L-BFGS calls it), median of "
          f"{args.repeats}")
    print(f"{'px':>6} {'s/step':>9}")
    per_step = {}
    for size in args.sizes:
        content, style = _load_float(content_ref, size), _load_float(style_ref, size)
        objective = _gatys_objective(content, style, extractor)
        x = tf.constant(content[None])
        per_step[size] = _timed(lambda: objective.value_and_grad(x), args.repeats)[0]
        print(f"{size:>6} {per_step[size]:>9.3f}")
    if not args.run:
        return
    # Speed-up at the first size: the fast network's style loss as the optimisation's target.
    size = args.sizes[0]
    model = _fast_model(args.run)
    content, style_ref = _load_float(content_ref, size), model.options.styles.split(",")[0]
    style = _load_float(style_ref, size)
    objective = _gatys_objective(content, style, extractor)
    x = content[None]
    fn = tf.function(lambda x: model.transformer([x, tf.one_hot([0], model.num_styles)], training=False))
    one_pass, one_pass_cpu = _timed(lambda: np.asarray(fn(x)), args.repeats)
    fast = np.asarray(fn(x))
    target = float(objective.losses(tf.constant(fast))["style"])
    objective.value_and_grad(tf.constant(x))  # traced before the clock starts
    start, cpu_start = time.perf_counter(), time.process_time()
    _, history = gatys.optimise(objective, x, args.max_steps, "lbfgs")
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    reached = next((h for h in history if h["style"] <= target), None)
    print(f"\nspeed-up at {size} px, style {style_ref}: the fast network's picture has style loss {target:.3f} "
          "(the content image: 1)")
    if reached is None:
        print(f"  optimisation did not reach it in {args.max_steps} steps ({total:.1f} s, {total_cpu:.1f} CPU s; "
              f"last style loss "
              f"{history[-1]['style']:.3f}): speed-up > {total / one_pass:.0f}x")
        return
    seconds, cpu = total * reached["step"] / len(history), total_cpu * reached["step"] / len(history)
    print(f"  {'method':<28} {'seconds':>9} {'CPU s':>9} {'style loss':>11}")
    print(f"  {'fast_style, one pass':<28} {one_pass:>9.3f} {one_pass_cpu:>9.3f} {target:>11.3f}")
    print(f"  {'Gatys L-BFGS, ' + str(reached['step']) + ' steps':<28} {seconds:>9.3f} {cpu:>9.3f} "
          f"{reached['style']:>11.3f}")
    print(f"  speed-up: {seconds / one_pass:.0f}x (wall), {cpu / one_pass_cpu:.0f}x (CPU time)")


def adain_bench(args) -> None:
    """AdaIN's one pass against Gatys optimisation from the content image, judged by the Gatys
    objective; seconds per picture (wall, after a warm-up pass) beside; the pictures (content,
    style, AdaIN, Gatys per row) go to benchmarks/out/style_adain.png."""
    from keras_gen.models.style import gatys, io
    from keras_gen.runs import load_run

    model = load_run(args.run)[0]
    extractor = _extractor()
    names = ("content image (no transfer)", "AdaIN, one pass", f"Gatys, {args.gatys_steps} L-BFGS steps")
    rows, seconds, grid = {name: [] for name in names}, {name: [] for name in names}, []
    for content_ref, style_ref in PAIRS:
        content, style = _load_float(content_ref, args.size), _load_float(style_ref, args.size)
        objective = _gatys_objective(content, style, extractor)
        c = np.asarray(tf.image.rgb_to_grayscale(content)) if model.channels == 1 else content
        s = np.asarray(tf.image.rgb_to_grayscale(style)) if model.channels == 1 else style
        model.generate(c[None], s[None], 1.0)  # warm-up: traces, allocations
        start = time.perf_counter()
        out = np.asarray(model.generate(c[None], s[None], 1.0))
        adain_s = time.perf_counter() - start
        out = np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out
        objective.value_and_grad(tf.constant(content[None]))  # traced before the clock starts
        start = time.perf_counter()
        result, _ = gatys.optimise(objective, content[None], args.gatys_steps, "lbfgs")
        gatys_s = time.perf_counter() - start
        for name, image, secs in zip(names, (content[None], out, np.asarray(result)), (0.0, adain_s, gatys_s)):
            parts = objective.losses(tf.constant(image))
            rows[name].append((float(parts["style"]), float(parts["content"])))
            seconds[name].append(secs)
        square = np.asarray(tf.image.resize(style[None], content.shape[:2]))[0]
        grid.append(np.concatenate([content, square, out[0], np.asarray(result)[0]], axis=1))
    print(f"style and content losses of the Gatys objective (VGG conv1_1..conv5_1, conv4_2) at {args.size} px, "
          f"mean over {len(PAIRS)} pairs; style relative to the content image's; seconds per picture (wall)")
    print(f"{'method':<30} {'style':>8} {'content':>10} {'seconds':>9}")
    for name in names:
        style_loss, content_loss = (np.mean([v[k] for v in rows[name]]) for k in (0, 1))
        print(f"{name:<30} {style_loss:>8.4f} {content_loss:>10.2f} {np.mean(seconds[name]):>9.3f}")
    ratio = np.mean(seconds[names[2]]) / np.mean(seconds[names[1]])
    print(f"Gatys seconds / AdaIN seconds: {ratio:.0f}x")
    width = max(row.shape[1] for row in grid)
    grid = np.concatenate([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=1.0)
                           for row in grid])
    path = io.save_float(grid, Path(__file__).parent / "out" / "style_adain.png")
    print(f"pictures (content, style, AdaIN, Gatys per row): {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=("latency", "gatys", "adain"))
    parser.add_argument("--run", default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated sides in pixels")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--gatys-steps", type=int, default=50)
    args = parser.parse_args()
    default_sizes = {"latency": "256,512,1024", "gatys": "256,512", "adain": "128"}[args.table]
    args.sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    {"latency": latency, "gatys": gatys_bench, "adain": adain_bench}[args.table](args)


if __name__ == "__main__":
    main()
