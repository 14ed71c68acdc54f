"""Find the version to serve in a TF Serving style model repository (EXPORTS/NAME/VERSION/).

TF Serving loads every numeric version directory it sees, even a half-written one, and fails
at predict time. keras-gen's exports are renamed into place only when complete, and here a
version is served only when its manifest is present and every file matches it, so a version
being copied in (or tampered with) is skipped with a warning and the previous one serves.

No TensorFlow here: the onnxruntime edge path uses this module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from keras_gen.core.edge.manifest import MANIFEST_NAME, is_version_name, verify_manifest
from keras_gen.core.errors import KerasGenError


@dataclass(frozen=True)
class VersionStatus:
    """One numeric version directory and whether it can be served (`problems` empty)."""

    version: int
    path: Path
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def list_versions(model_dir: str | Path) -> list[VersionStatus]:
    """All numeric version directories of `model_dir`, newest first, each with its problems."""
    model_dir = Path(model_dir)
    statuses = []
    for child in model_dir.iterdir():
        if child.is_dir() and is_version_name(child.name):
            statuses.append(VersionStatus(int(child.name), child, tuple(verify_manifest(child))))
    return sorted(statuses, key=lambda s: s.version, reverse=True)


def resolve_version(path: str | Path) -> Path:
    """The version directory to load for `path`.

    `path` is either EXPORTS/NAME (the highest numeric version whose manifest verifies;
    incomplete or damaged versions are skipped with a warning) or EXPORTS/NAME/VERSION (which
    must verify). Raises KerasGenError saying what is wrong when nothing can be loaded.
    """
    path = Path(path)
    if not path.exists():
        raise KerasGenError(f"{path} does not exist. Pass an export written by `keras-gen export` (EXPORTS/NAME).")
    if not path.is_dir():
        raise KerasGenError(f"{path} is not a directory. Pass EXPORTS/NAME or EXPORTS/NAME/VERSION.")

    has_versions = any(c.is_dir() and is_version_name(c.name) for c in path.iterdir())
    if (path / MANIFEST_NAME).exists() or (is_version_name(path.name) and not has_versions):
        problems = verify_manifest(path)
        if problems:
            raise KerasGenError(
                f"Export version {path} cannot be loaded: " + "; ".join(problems)
                + ". Re-run `keras-gen export`, or pass the model directory to use its newest complete version."
            )
        return path

    versions = list_versions(path)
    for status in versions:
        if status.ok:
            return status.path
        warnings.warn(
            f"Skipping export version {status.path}: " + "; ".join(status.problems[:3])
            + (f" (+{len(status.problems) - 3} more)" if len(status.problems) > 3 else ""),
            stacklevel=2,
        )
    if versions:
        raise KerasGenError(
            f"No loadable version in {path}: every version directory ({', '.join(str(s.version) for s in versions)}) "
            "is incomplete or does not match its manifest. Re-run `keras-gen export`."
        )
    models = sorted(c.name for c in path.iterdir() if c.is_dir() and any(is_version_name(g.name) for g in c.iterdir()))
    if models:
        raise KerasGenError(
            f"{path} is a model repository holding {', '.join(models)}; pass one model, e.g. {path / models[0]}."
        )
    raise KerasGenError(f"{path} holds no export versions (numeric directories). Run `keras-gen export` first.")
