"""Version resolution serves the newest complete version and skips half-written or tampered ones."""

import shutil

import pytest

from keras_gen.errors import KerasGenError
from keras_gen.edge.repository import list_versions, resolve_version


@pytest.fixture()
def repository(served, tmp_path):
    """EXPORTS/dcgan with versions 1, 2 (good), 3 (no manifest yet) and 4 (file changed)."""
    _, _, version_dir = served
    model_dir = tmp_path / "exports" / "dcgan"
    for v in (1, 2, 3, 4):
        shutil.copytree(version_dir, model_dir / str(v))
    (model_dir / "3" / "manifest.json").unlink()  # still being copied in
    with open(model_dir / "4" / "model.onnx", "ab") as f:
        f.write(b"\0")
    shutil.copytree(version_dir, model_dir / ".tmp-5-abc")  # an export in progress
    return model_dir


def test_newest_complete_version_is_chosen(repository):
    with pytest.warns(UserWarning) as record:
        chosen = resolve_version(repository)
    assert chosen == repository / "2"
    messages = [str(w.message) for w in record]
    assert any(f"{repository / '4'}: model.onnx: size" in m for m in messages)
    assert any(f"{repository / '3'}: " in m and "manifest.json does not exist" in m for m in messages)
    statuses = list_versions(repository)
    assert [(s.version, s.ok) for s in statuses] == [(4, False), (3, False), (2, True), (1, True)]


def test_explicit_version(repository):
    assert resolve_version(repository / "1") == repository / "1"
    with pytest.raises(KerasGenError, match="cannot be loaded.*manifest.json does not exist"):
        resolve_version(repository / "3")
    with pytest.raises(KerasGenError, match="sha256|size"):
        resolve_version(repository / "4")


def test_nothing_loadable(repository, tmp_path):
    for v in ("1", "2"):
        (repository / v / "manifest.json").unlink()
    with pytest.warns(UserWarning), pytest.raises(KerasGenError, match="No loadable version"):
        resolve_version(repository)
    with pytest.raises(KerasGenError, match="does not exist"):
        resolve_version(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KerasGenError, match="holds no export versions"):
        resolve_version(tmp_path / "empty")


def test_repository_root_names_its_models(served):
    _, model_dir, _ = served
    with pytest.raises(KerasGenError, match="model repository holding dcgan"):
        resolve_version(model_dir.parent)


def test_numeric_model_name_is_not_mistaken_for_a_version(repository, tmp_path):
    renamed = tmp_path / "exports" / "2024"
    repository.rename(renamed)
    with pytest.warns(UserWarning):
        assert resolve_version(renamed) == renamed / "2"
