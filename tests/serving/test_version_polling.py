"""Version polling is cheap and quiet: files are hashed once, when a version is loaded, then
watched by size and mtime; a version that fails to load is tried again only when its files change
or its back-off runs out, not on every poll."""

import json
import logging
import os
import shutil

import pytest

from keras_gen.edge import manifest as manifest_module
from keras_gen.edge.manifest import MANIFEST_NAME, write_manifest
from serving.models import RETRY_FIRST_SECONDS, ModelRepository


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def repository_dir(served, tmp_path):
    root = tmp_path / "exports"
    shutil.copytree(served[2], root / "dcgan" / "1")
    return root


@pytest.fixture()
def hashes(monkeypatch):
    """Counts sha256 calls (the manifest's file checks) by file name."""
    counted = []
    original = manifest_module.sha256_file

    def counting(path):
        counted.append(os.path.basename(path))
        return original(path)

    monkeypatch.setattr(manifest_module, "sha256_file", counting)
    return counted


def unloadable_copy(good, target):
    """A version whose manifest verifies but whose model.onnx is not an ONNX model."""
    shutil.copytree(good, target)
    (target / "model.onnx").write_bytes(b"not an onnx model, yet listed in a valid manifest")
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    (target / MANIFEST_NAME).unlink()
    write_manifest(target, manifest)


def test_files_are_hashed_once_then_watched_by_size_and_mtime(repository_dir, hashes):
    repository = ModelRepository(repository_dir, clock=Clock())
    repository.poll_once()
    assert repository.version("dcgan").version == 1
    assert hashes.count("model.onnx") == 1  # verified when it was loaded
    hashes.clear()
    for _ in range(10):
        repository.poll_once()
    assert hashes == []  # the serving version is never read again


def test_an_unloadable_version_is_not_retried_every_poll(repository_dir, hashes, caplog):
    clock = Clock()
    repository = ModelRepository(repository_dir, clock=clock)
    repository.poll_once()
    attempts = []
    load = repository._load
    repository._load = lambda version, path: (attempts.append(version), load(version, path))[1]
    unloadable_copy(repository_dir / "dcgan" / "1", repository_dir / "dcgan" / "2")
    hashes.clear()
    with caplog.at_level(logging.WARNING, logger="keras_gen.serving"):
        for _ in range(10):  # 20 s of polls every 2 s
            repository.poll_once()
            clock.now += 2
    assert attempts == [2] and len([r for r in caplog.records if "failed to load" in r.getMessage()]) == 1
    assert hashes.count("model.onnx") == 1
    status = repository.status("dcgan")["model_version_status"]
    assert [(s["version"], s["state"]) for s in status] == [("2", "END"), ("1", "AVAILABLE")]
    assert repository.version("dcgan").version == 1

    clock.now += RETRY_FIRST_SECONDS  # the back-off ran out: one more try, then twice as long
    repository.poll_once()
    repository.poll_once()
    assert attempts == [2, 2]
    assert repository.failed[repository_dir / "dcgan" / "2"].retry_at == clock.now + 2 * RETRY_FIRST_SECONDS

    good = repository_dir / "dcgan" / "1" / "model.onnx"  # its files change: tried at the next poll
    shutil.copyfile(good, repository_dir / "dcgan" / "2" / "model.onnx")
    manifest = json.loads((repository_dir / "dcgan" / "2" / MANIFEST_NAME).read_text())
    (repository_dir / "dcgan" / "2" / MANIFEST_NAME).unlink()
    write_manifest(repository_dir / "dcgan" / "2", manifest)
    repository.poll_once()
    assert attempts == [2, 2, 2] and repository.version("dcgan").version == 2
    assert repository.status("dcgan")["model_version_status"] == [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]


def test_a_version_being_copied_in_is_tried_again_when_it_changes(repository_dir):
    """A half-written version fails once per state of its files (not once per poll) and serves
    as soon as the copy completes; a version removed is forgotten."""
    clock = Clock()
    repository = ModelRepository(repository_dir, clock=clock)
    repository.poll_once()
    attempts = []
    load = repository._load
    repository._load = lambda version, path: (attempts.append(version), load(version, path))[1]
    model_dir = repository_dir / "dcgan"
    half = model_dir / "3"
    half.mkdir()
    (half / "saved_model.pb").write_bytes(b"half")
    for _ in range(5):
        repository.poll_once()
    assert attempts == [3]
    assert "manifest" in repository.status("dcgan")["model_version_status"][0]["status"]["error_message"]
    shutil.rmtree(half)
    shutil.copytree(model_dir / "1", half)  # the copy finished: the same number, other files
    repository.poll_once()
    assert attempts == [3, 3] and repository.version("dcgan").version == 3
    assert repository.failed == {}
