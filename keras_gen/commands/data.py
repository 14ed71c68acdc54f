"""`keras-gen data pack SOURCE --out SHARDS/`: a data source packed into TFRecord shards with a
small index (keras_gen/data/shards.py), which `--data SHARDS/` then reads interleaved, cached
and prefetched; `keras-gen data info SHARDS/` says what a packed set holds.
"""

from __future__ import annotations

import argparse

from keras_gen.commands.common import quiet_tensorflow
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("data", help="pack a data source into TFRecord shards (data at scale)")
    actions = p.add_subparsers(dest="action", required=True)
    pack = actions.add_parser("pack", help="write SOURCE as TFRecord shards with an index; --data SHARDS/ reads them")
    pack.add_argument("source", help="digits | shapes | photos | textures | tfds:NAME | a folder (A/B pairs with --paired)")
    pack.add_argument("--out", required=True, help="the folder of shards to write (new or empty)")
    pack.add_argument("--shard-mb", type=float, default=100.0, help="megabytes per shard (default 100)")
    pack.add_argument("--image-size", type=_image_size_flag, default=None, metavar="N|HxW",
                      help="the size images are stored at (default: the source's); a model asking for another "
                           "size gets them resized as they are read")
    pack.add_argument("--channels", type=int, choices=(1, 3), default=None, help="default: the source's")
    pack.add_argument("--paired", action="store_true",
                      help="SOURCE is a paired folder (A/ and B/, or side-by-side A|B images): pack the pairs")
    pack.add_argument("--data-dir", default=None, help="TFDS data directory")
    pack.add_argument("--seed", type=int, default=0, help="for generated sources (shapes, photo crops)")
    pack.set_defaults(func=run)
    info = actions.add_parser("info", help="what a packed set holds")
    info.add_argument("shards")
    info.set_defaults(func=run)


def _image_size_flag(value: str):
    from keras_gen.data.common import parse_image_size

    try:
        return parse_image_size(value)
    except KerasGenError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args) -> int:
    quiet_tensorflow()
    from keras_gen.data import shards

    if args.action == "info":
        if not shards.is_shards(args.shards):
            raise KerasGenError(f"{args.shards} is not a packed set (no keras-gen index.json); pack one with "
                                "keras-gen data pack SOURCE --out FOLDER.")
        _print_index(args.shards, shards.read_index(args.shards))
        return 0
    if args.image_size is not None:
        from keras_gen.data.common import check_image_size

        check_image_size(args.image_size, default=0)
    index = shards.pack(args.source, args.out, shard_mb=args.shard_mb, image_size=args.image_size,
                        channels=args.channels, paired=args.paired, seed=args.seed, data_dir=args.data_dir)
    _print_index(args.out, index)
    print(f"  train on it:   keras-gen train MODEL --data {args.out} ...")
    return 0


def _print_index(path, index: dict) -> None:
    shape = "x".join(map(str, index["image_shape"]))
    pairs = f" -> {'x'.join(map(str, index['image_shape_b']))}" if index.get("image_shape_b") else ""
    classes = f", {index['num_classes']} classes" if index.get("num_classes") else ""
    print(f"{path}: {index['kind']} of {index['source']!r} at {shape}{pairs}{classes}")
    for split, part in index["splits"].items():
        print(f"  {split:6s} {part['count']:8d} examples in {len(part['files'])} shard(s), "
              f"{part['bytes'] / 2**20:.1f} MB")
