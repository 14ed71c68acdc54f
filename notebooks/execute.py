"""Run a notebook once, top to bottom, at its full settings, and keep its outputs in the file.

    .venv/bin/python notebooks/execute.py notebooks/diffusion.ipynb [more.ipynb ...]

This is how the committed outputs of every notebook were made (one full run each, on a CPU;
the work folders are the notebook's own, under notebooks/runs/, which git ignores). The test
suite runs the notebooks at tiny settings instead (tests/test_notebook.py) and never writes them.
TensorFlow's start-up log lines (absl writes them to stderr before TF_CPP_MIN_LOG_LEVEL can
silence them) and nbclient's per-cell timings are dropped from the saved file: they say nothing
about the notebook and change on every run.

    .venv/bin/python notebooks/execute.py --clean-only OUT.ipynb
cleans an already executed notebook in place the same way.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat

LOG_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} \d\d:\d\d:\d\d"
                       r"|To enable the following instructions|INFO:tensorflow:Assets written to)")


def clean(notebook) -> int:
    """Drop log noise and timing metadata from an executed notebook; returns the lines dropped."""
    dropped = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                lines = output.text.splitlines(keepends=True)
                useful = [line for line in lines if not LOG_NOISE.match(line)]
                dropped += len(lines) - len(useful)
                if not "".join(useful).strip():
                    continue
                output.text = "".join(useful)
            kept.append(output)
        cell.outputs = kept
    return dropped


def execute(path: Path) -> None:
    from nbclient import NotebookClient

    for name in [name for name in os.environ if name.startswith("KG_NB_")]:
        sys.exit(f"{name} is set: the committed outputs come from the full settings; unset it first")
    notebook = nbformat.read(path, as_version=4)
    start = time.monotonic()
    NotebookClient(notebook, timeout=None, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # a cell that raises stops it
    dropped = clean(notebook)
    nbformat.write(notebook, path)
    print(f"{path}: executed in {time.monotonic() - start:.0f} s ({dropped} log lines dropped)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--clean-only", action="store_true", help="clean executed notebooks, run nothing")
    args = parser.parse_args()
    for path in args.notebooks:
        if args.clean_only:
            notebook = nbformat.read(path, as_version=4)
            dropped = clean(notebook)
            nbformat.write(notebook, path)
            print(f"{path}: {dropped} log lines dropped")
        else:
            execute(path.resolve())


if __name__ == "__main__":
    main()
