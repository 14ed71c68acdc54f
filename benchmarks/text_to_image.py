"""Text to image on `shapes`: does the model draw the shape, colour and size a held-out caption
names? (issue 31, part 3.)

    python benchmarks/text_to_image.py --run RUN [--run RUN2 ...] [--n 300] [--seed 0] [--out FOLDER]
        [--results docs/BENCHMARKS.md]

Held-out captions are the full captions (size where named, colour, shape, position) of the
`shapes` test split at the run's image size, which training never saw. Each caption is drawn
once (seed S), and a judge reads the image back:

    shape    the shapes domain classifier's prediction (cache/classifiers; trained if missing)
    colour   the palette colour nearest the mean foreground pixel (keras_gen.latent_arithmetic)
    size     "large" when the foreground covers more than the midpoint between the mean areas of
             the test split's real small and large shapes (measured here), else "small"

Printed beside the model's scores, as their scale: the same judge on the real test images with
their own captions (its floor: what a perfect generator would score), and the model's images
judged against another image's caption (the captions rolled by one: what a model that ignores
the caption scores, up to the split's attribute frequencies). `--probe` prints, for a text2img
run, how much of its caption vector is shape and how much colour, whether its discriminator
scores a swapped shape word as it scores a swapped colour word, and (with the word term) how
often stage II's word head reads the named shape and colour off real test images and off the
run's own images. Several runs (text2img and tddpm)
are judged on the same captions in one table; `--results` writes it into that markdown file
between the `text to image` section markers (benchmarks/docs_sections.py), one section per image
size (`text to image at 32 px`; 16 px keeps the plain name).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SECTION = "text to image"
KEYS = ("shape", "colour", "size", "all named")

import numpy as np  # noqa: E402

from keras_gen.data.captions import full_captions, parse_caption  # noqa: E402
from keras_gen.data.shapes import BACKGROUND, COLOUR_NAMES, SHAPES, draw_shapes  # noqa: E402

FOREGROUND = 120  # summed |pixel - background| over RGB above which a pixel is the shape's


def foreground_share(images: np.ndarray) -> np.ndarray:
    pixels = np.asarray(images, np.float64).reshape(len(images), -1, 3)
    return (np.abs(pixels - np.asarray(BACKGROUND)).sum(-1) > FOREGROUND).mean(1)


def make_judge(classifier, size_threshold: float):
    from keras_gen.latent_arithmetic import shapes_judge

    tags = shapes_judge(classifier)

    def judge(images):
        named = [t.split() for t in tags(images)]
        shares = foreground_share(images)
        return [{"shape": SHAPES.index(t[1]) if len(t) == 2 else None,
                 "colour": COLOUR_NAMES.index(t[0]) if len(t) == 2 else None,
                 "size": "large" if s > size_threshold else "small"} for t, s in zip(named, shares)]

    return judge


def scores(judged, captions) -> dict:
    """Share right per attribute a caption names, and all three together where all are named."""
    out = {}
    wanted = [parse_caption(c) for c in captions]
    for key in ("shape", "colour", "size"):
        pairs = [(j[key], w[key]) for j, w in zip(judged, wanted) if w[key] is not None]
        out[key] = float(np.mean([a == b for a, b in pairs])) if pairs else float("nan")
    every = [all(j[k] == w[k] for k in ("shape", "colour", "size") if w[k] is not None)
             for j, w in zip(judged, wanted)]
    out["all named"] = float(np.mean(every))
    return out


def shape_breakdown(judged, captions) -> str:
    """The named shape drawn right, per shape named: where the shape score's misses are."""
    wanted = [parse_caption(c)["shape"] for c in captions]
    parts = []
    for k, name in enumerate(SHAPES):
        hits = [j["shape"] == k for j, w in zip(judged, wanted) if w == k]
        parts.append(f"{name} {np.mean(hits):.2f} (of {len(hits)})" if hits else f"{name} -")
    return "the named shape drawn, per shape: " + ", ".join(parts)


def variance_shares(vectors: np.ndarray) -> tuple[float, float]:
    """(shape's, colour's) share of the variance of vectors (6 shapes, 8 colours, D) between captions."""
    total = vectors.var(axis=(0, 1)).sum()
    return float(vectors.mean(1).var(0).sum() / total), float(vectors.mean(0).var(0).sum() / total)


def swap_word(caption: str, names, step: int = 1) -> str:
    """The caption with its word from `names` (a shape, a colour) replaced by the next one."""
    words = caption.split()
    i = next(k for k, w in enumerate(words) if w in names)
    words[i] = names[(names.index(words[i]) + step) % len(names)]
    return " ".join(words)


def probe_text2img(model, real: np.ndarray, captions) -> list[str]:
    """What a text2img run's caption vector and discriminator read: the shares of shape and colour
    in phi's and in the augmentation's mean's variance over the 48 captions "a large COLOUR SHAPE",
    the noise's share of c, and stage II's caption score of real test images with their own
    caption, the shape word swapped, and the colour word swapped."""
    import tensorflow as tf

    from keras_gen.core.text import tokenize

    def encode(texts):
        return model.text_encoder(tokenize(texts, model.caption.vocabulary, model.caption.max_words)[0],
                                  training=False)

    phi = encode([f"a large {c} {s}" for s in SHAPES for c in COLOUR_NAMES])
    o = model.options
    outputs = model.generator([phi, tf.zeros((48, 2 * o.condition_dim)), tf.zeros((48, o.noise_dim))],
                              training=False)
    mu, log_var = np.asarray(outputs[2]), np.asarray(outputs[3])
    signal, noise = mu.var(0).sum(), np.exp(log_var).sum(1).mean()
    lines = []
    for name, v in (("caption vector phi", np.asarray(phi)), ("stage I augmentation's mean mu", mu)):
        shape, colour = variance_shares(v.reshape(len(SHAPES), len(COLOUR_NAMES), -1))
        lines.append(f"{name}: shape {shape:.2f} and colour {colour:.2f} of its variance between captions")
    lines.append(f"stage I condition c: noise (sum of sigma^2) {noise / (noise + signal):.2f} of its variance")
    x = tf.constant(real.astype("float32") / 127.5 - 1.0)
    for name, texts in (("own", captions), ("shape word swapped", [swap_word(c, SHAPES) for c in captions]),
                        ("colour word swapped", [swap_word(c, COLOUR_NAMES) for c in captions])):
        score = float(np.mean(model.discriminator_2([x, encode(texts)], training=False)[0]))
        lines.append(f"stage II D(real image, caption), {name}: mean logit {score:.3f}")
    if getattr(model, "readers", ()) or len(model.discriminator_2.outputs) > 2:  # the word term (word_weight > 0)
        lines += word_head_probe(model, x, captions)
    return lines


def word_head_probe(model, real, captions) -> list[str]:
    """How well stage II's word reader (`word_reader`) or D's word head (TAC-GAN's auxiliary
    classifier; runs before the reader) reads the shape and colour words: the share of real test
    images, and of the model's own images of their captions, whose likeliest shape (colour) word is
    the one the caption names."""
    import tensorflow as tf

    from keras_gen.commands.common import export_weights

    vocabulary = list(model.caption.vocabulary)
    shape_ids, colour_ids = [vocabulary.index(s) for s in SHAPES], [vocabulary.index(c) for c in COLOUR_NAMES]
    wanted = [parse_caption(c) for c in captions]
    with export_weights(model):
        fake = model.sample(len(captions), seed=0, caption=list(captions))
    null = model.text_encoder(np.zeros((len(captions), model.caption.max_words), np.int32), training=False)
    reader = "stage II's word reader" if getattr(model, "readers", ()) else "stage II D's word head"
    lines = []
    for name, images in (("real test images", real), ("its own images", fake)):
        images = tf.constant(images, tf.float32)
        logits = np.asarray(model.reader_2(images, training=False) if getattr(model, "readers", ()) else
                            model.discriminator_2([images, null], training=False)[2])
        shape = np.mean(np.argmax(logits[:, shape_ids], 1) == [w["shape"] for w in wanted])
        colour = np.mean(np.argmax(logits[:, colour_ids], 1) == [w["colour"] for w in wanted])
        lines.append(f"{reader} on {name}: the named shape first {shape:.2f}, colour {colour:.2f}")
    return lines


def training_steps(run: Path, model) -> str:
    """The run's training steps from its state.json and config.json (epochs x steps per epoch), and
    of them the word reader's warm-up, where it had one (steps before the game started)."""
    try:
        state = json.loads((run / "state.json").read_text())
        config = json.loads((run / "config.json").read_text())
        steps = int(state["epoch"]) * int(config["steps_per_epoch"])
    except (OSError, KeyError, TypeError, ValueError):
        return "? steps"
    warmup = min(steps, model.options.reader_warmup_steps) if getattr(model, "readers", ()) else 0
    return f"{steps} steps" + (f", {warmup} of them the word reader's warm-up" if warmup else "")


def draw(model, captions, seed: int, extra: dict) -> np.ndarray:
    """One image per caption, uint8, with the weights an export would carry (the EMA, if any)."""
    from keras_gen.commands.common import export_weights
    from keras_gen.images import to_uint8

    with export_weights(model):  # Keras' sample gives [-1, 1]; the judge reads uint8 pixels
        return to_uint8(np.concatenate([model.sample(len(captions[i:i + 64]), seed=seed + i,
                                                     caption=captions[i:i + 64], **extra)
                                        for i in range(0, len(captions), 64)]))


def table(rows: dict) -> str:
    lines = ["| | " + " | ".join(KEYS) + " |", "|---|" + "---|" * len(KEYS)]
    lines += [f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in KEYS) + " |" for name, row in rows.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, action="append",
                        help="a text2img or tddpm run trained on shapes (repeat for several, one table)")
    parser.add_argument("--n", type=int, default=300, help="held-out captions drawn and judged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="a folder: each run's first 32 images (text_RUN_heldout.png) "
                                                    "and the captions they draw (.txt beside)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--results", default=None, help="write the table into this markdown file's section")
    parser.add_argument("--probe", action="store_true", help="also print what a text2img run's caption vector, "
                                                                  "augmentation and discriminator carry of shape "
                                                                  "and colour")
    parser.add_argument("--extra", action="append", default=[],
                        help="a request flag as KEY=VALUE, for every run that takes it (guidance=3)")
    args = parser.parse_args()

    from keras_gen.features.classifier import load_domain_classifier
    from keras_gen.runs import load_run

    runs = [Path(r) for r in args.run]
    models = [load_run(str(r))[0] for r in runs]
    sides = {m.image_size for m in models}
    if len(sides) != 1:
        parser.error(f"the runs have different image sizes {sorted(sides)}: judge each size in its own table")
    side = sides.pop()
    real, attributes = draw_shapes(args.n, side, 1)  # the test split's seed family, never trained on
    captions = full_captions(attributes)
    sizes = [parse_caption(c)["size"] for c in captions]
    shares = foreground_share(real)
    small = shares[[s == "small" for s in sizes]].mean()
    large = shares[[s == "large" for s in sizes]].mean()
    judge = make_judge(load_domain_classifier("shapes", verbose=0), float((small + large) / 2))
    extra = {k: float(v) for k, v in (e.split("=", 1) for e in args.extra)}

    rows = {"real test images, their own captions (the judge's floor)": scores(judge(real), captions)}
    for run, model in zip(runs, models):
        takes = {s.name for s in model.request_specs()}
        flags = {k: v for k, v in extra.items() if k in takes}
        started = time.perf_counter()
        images = draw(model, captions, args.seed, flags)
        seconds = time.perf_counter() - started
        judged = judge(images)
        name = f"{model.registered_name} ({run.name}, {training_steps(run, model)}" + \
            "".join(f", {k} {v:g}" for k, v in flags.items()) + ")"
        rows[f"{name}, its captions"] = scores(judged, captions)
        rows[f"{name}, another image's caption (chance)"] = scores(judged, np.roll(captions, 1))
        print(f"{name}: {args.n} images in {seconds:.1f} s")
        print(f"  {shape_breakdown(judged, captions)}")
        if args.probe and model.registered_name == "text2img":
            for line in probe_text2img(model, real, captions):
                print(f"  {line}")
        if args.out:
            from keras_gen.images import save_grid

            grid = Path(args.out) / f"text_{run.name}_heldout.png"  # per run: two runs of a model keep both
            grid.parent.mkdir(parents=True, exist_ok=True)
            save_grid(images[:32], str(grid), ncols=8)
            grid.with_suffix(".txt").write_text("\n".join(captions[:32]) + "\n")
            print(f"wrote {grid} (captions in {grid.with_suffix('.txt')})")

    head = (f"{args.n} held-out shapes captions at {side} px (the test split's full captions), seed {args.seed}; "
            f"size threshold {(small + large) / 2:.3f} of the image (small {small:.3f}, large {large:.3f})")
    text = table(rows)
    print(head)
    print(text)
    if args.results:
        from benchmarks.docs_sections import write_section

        command = "python benchmarks/text_to_image.py " + " ".join(f"--run {r}" for r in args.run) + \
            f" --n {args.n} --seed {args.seed}" + "".join(f" --extra {e}" for e in args.extra)
        # One table per image size (runs of one size are judged together): 16 px keeps the first section's name.
        section = SECTION if side == 16 else f"{SECTION} at {side} px"
        write_section(Path(args.results), f"## Text to image at {side} px: `{command}`\n\n{head}.\n\n{text}", section)
        print(f"wrote the table into {args.results}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"runs": args.run, "n": args.n, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
