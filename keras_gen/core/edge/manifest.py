"""The export manifest: what a version directory holds, and proof that its files are intact.

`manifest.json` sits beside `saved_model.pb`, `variables/` and `model.onnx` in every version
directory (EXPORTS/NAME/VERSION/). It records the model, its endpoints (inputs and outputs with
names, dtypes, shapes and value ranges), the ONNX file (opset, names, dynamic axes), training
facts, the parity figures measured before the version appeared, and the sha256 and size of
every other file. A server loads a version only when `verify_manifest` finds no problem, so a
half-copied or tampered version is skipped instead of failing at predict time.

This module is plain Python (json, hashlib): the onnxruntime serving path imports it and must
not pull in TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath

from keras_gen.core.errors import KerasGenError

MANIFEST_NAME = "manifest.json"
FORMAT = "keras-gen-export"
FORMAT_VERSION = 1

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk_files(version_dir: Path) -> list[str]:
    """Every regular file under `version_dir` except the manifest, as sorted POSIX paths."""
    found = []
    for root, dirs, files in os.walk(version_dir):
        dirs.sort()
        for name in files:
            rel = Path(root, name).relative_to(version_dir).as_posix()
            if rel != MANIFEST_NAME:
                found.append(rel)
    return sorted(found)


def file_table(version_dir: str | Path) -> dict[str, dict]:
    """{relative path: {"sha256", "size"}} for every file in the version directory but the manifest."""
    version_dir = Path(version_dir)
    return {
        rel: {"sha256": sha256_file(version_dir / rel), "size": (version_dir / rel).stat().st_size}
        for rel in _walk_files(version_dir)
    }


def write_manifest(version_dir: str | Path, manifest: dict) -> Path:
    """Hash the directory's files into `manifest["files"]` and write manifest.json (fsynced).

    The file table is computed here, after every other file is written, so it always matches
    what is on disk when the manifest appears.
    """
    version_dir = Path(version_dir)
    manifest = dict(manifest)
    manifest.setdefault("format", FORMAT)
    manifest.setdefault("format_version", FORMAT_VERSION)
    manifest["files"] = file_table(version_dir)
    path = version_dir / MANIFEST_NAME
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=False, allow_nan=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def read_manifest(version_dir: str | Path) -> dict:
    """Parse manifest.json of a version directory; KerasGenError if it is missing or malformed."""
    path = Path(version_dir) / MANIFEST_NAME
    if not path.is_file():
        raise KerasGenError(
            f"{path} does not exist: {version_dir} is not a complete keras-gen export version. "
            "Re-run `keras-gen export` to write it."
        )
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KerasGenError(f"Cannot read {path}: {exc}. Re-run `keras-gen export`.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise KerasGenError(f"{path} is not a keras-gen export manifest (no \"format\": \"{FORMAT}\").")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KerasGenError(
            f"{path} has format_version {manifest.get('format_version')!r}; this keras-gen reads "
            f"version {FORMAT_VERSION}. Re-export the model with this keras-gen."
        )
    return manifest


def _unsafe_relpath(rel: str) -> bool:
    p = PurePosixPath(rel)
    return p.is_absolute() or ".." in p.parts or "\\" in rel or rel in ("", ".")


def verify_manifest(version_dir: str | Path, manifest: dict | None = None) -> list[str]:
    """Problems that stop `version_dir` from being served; an empty list means it is intact.

    Checks: the manifest parses; every listed file is a safe relative path, exists, and has the
    recorded size and sha256; no file is present that the manifest does not list.
    """
    version_dir = Path(version_dir)
    if manifest is None:
        try:
            manifest = read_manifest(version_dir)
        except KerasGenError as exc:
            return [str(exc)]
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return [f"{version_dir / MANIFEST_NAME} lists no files."]
    problems = []
    for rel, entry in sorted(files.items()):
        if _unsafe_relpath(rel):
            problems.append(f"manifest lists an unsafe path {rel!r}")
            continue
        path = version_dir / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            problems.append(f"{rel}: size {size} != {entry.get('size')} in manifest")
            continue
        if sha256_file(path) != entry.get("sha256"):
            problems.append(f"{rel}: sha256 does not match the manifest (file changed)")
    for rel in _walk_files(version_dir):
        if rel not in files:
            problems.append(f"{rel}: present but not listed in the manifest")
    return problems


def is_version_name(name: str) -> bool:
    """TF Serving's rule: a version directory is named by a non-negative int64; other names are
    ignored (which is why the exporter's temporary folders start with a dot)."""
    return name.isdigit() and name.isascii() and int(name) < 2**63
