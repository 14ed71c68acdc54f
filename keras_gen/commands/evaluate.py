"""`keras-gen evaluate RUN|EXPORT`: FID/KID/IS, precision-recall, memorisation, label accuracy,
PSNR/SSIM or bits/dim of a run or an export, each figure beside its real-vs-real floor; a
super-resolution model's Y-PSNR/SSIM, RGB PSNR and VGG feature distance beside bicubic's.
"""

from __future__ import annotations

import warnings

from keras_gen.commands.common import check_writable_file, print_warning, quiet_tensorflow
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="FID/KID/precision-recall/memorisation, label accuracy, PSNR/SSIM, "
                                               "bits/dim or super-resolution scores of a run or export, each beside "
                                               "its floor",
                              description="Samples are drawn with the model's default request options; each "
                                          "option it declares (--guidance, --steps, --truncation, ...; `keras-gen "
                                          "sample PATH --inputs` lists them) is a flag here too, as in `keras-gen "
                                          "sample`.")
    p.add_argument("path")
    p.add_argument("--data", default=None, help="real data to compare with (default: the run's training data; "
                                                "other data gives a warning); a super-resolution model also takes "
                                                "sr_holdout (chelsea, coffee, brick at full size: benchmarks/"
                                                "restoration.py's pictures)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--metrics", default=None,
                   help="comma-separated: fid,kid,is,pr,mem,div (samples), label_acc (conditional models), "
                        "psnr,ssim (paired models), bpd (likelihood models), sr,vgg (super-resolution models: "
                        "Y-PSNR/SSIM and RGB PSNR, VGG feature distance, beside bicubic); default: every one the "
                        "model can feed except is and div")
    p.add_argument("--n", type=int, default=2000, help="generated samples (and at most as many real ones; at most as "
                                                       "many pictures upscaled)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", default="domain", help="domain (offline, trained classifier) | inception")
    p.add_argument("--inception-weights", default=None, help="local InceptionV3 .h5 weights file")
    p.add_argument("--cache-dir", default=None, help="where domain classifiers are cached")
    p.add_argument("--json", default=None, help="also write the report as JSON")
    p.set_defaults(func=run, takes_request_flags=True)


def run(args, extra: list[str] | None = None) -> int:
    options = option_flags(extra or [])
    if args.json:
        check_writable_file(args.json, "--json")  # now, not after the minutes of evaluation
    quiet_tensorflow()
    from keras_gen.evaluation import DataMismatchWarning, evaluate_path, format_report, save_report

    with warnings.catch_warnings():
        # Said at once on stderr, one line, before the minutes of scoring (the report's JSON keeps it too).
        warnings.simplefilter("ignore", DataMismatchWarning)
        report = evaluate_path(
            args.path, data=args.data, metrics=args.metrics, n=args.n, seed=args.seed, features=args.features,
            data_dir=args.data_dir, cache_dir=args.cache_dir, inception_weights=args.inception_weights,
            on_warning=print_warning, options=options,
        )
    print(format_report(report))
    if args.json:
        print(f"wrote {save_report(report, args.json)}")
    return 0


def option_flags(extra: list[str]) -> dict[str, str]:
    """`--NAME VALUE` / `--NAME=VALUE` pairs as {name: text}; keras_gen.evaluation checks them
    against the model's declared options once it is loaded."""
    options, it = {}, iter(extra)
    for flag in it:
        if not flag.startswith("--") or flag == "--":
            raise KerasGenError(f"unexpected argument {flag!r}; sampling options are --NAME VALUE (e.g. --guidance 5).")
        flag, inline = flag.split("=", 1) if "=" in flag else (flag, None)
        name = flag[2:].replace("-", "_")
        value = inline if inline is not None else next(it, None)
        if value is None:
            raise KerasGenError(f"{flag} needs a value.")
        if name in options:
            raise KerasGenError(f"{flag} is given twice.")
        options[name] = value
    return options
