"""`keras-gen data pack` and `--data SHARDS/`: TFRecord shards with an index, read back equal to
their source, sharded by file across workers, interleaved, and trained on (images, labels, pairs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keras_gen.cli import main
from keras_gen.data import describe, load_arrays
from keras_gen.data.shards import INDEX, is_shards, read_index


@pytest.fixture(scope="module")
def digits_shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("packed") / "digits"
    assert main(["data", "pack", "digits", "--out", str(out), "--shard-mb", "0.5"]) == 0
    return out


def test_pack_writes_shards_and_an_index_that_describe_the_source(digits_shards, capsys):
    index = json.loads((digits_shards / INDEX).read_text())
    source = describe("digits")
    assert index["format"] == "keras-gen-shards" and index["kind"] == "images"
    assert index["image_shape"] == [32, 32, 1] and index["num_classes"] == 10
    for split, part in index["splits"].items():
        assert part["count"] == source.split_sizes[split]
        assert all((digits_shards / f).is_file() for f in part["files"])
        assert all(f.endswith(f"-of-{len(part['files']):05d}.tfrecord") for f in part["files"])
    assert len(index["splits"]["train"]["files"]) >= 3  # 1.4 MB at 0.5 MB a shard
    assert is_shards(digits_shards) and not is_shards(digits_shards / "missing")
    info = describe(str(digits_shards))
    assert (info.default_image_size, info.channels, info.num_classes, info.split_sizes) == (
        32, 1, 10, source.split_sizes)
    assert main(["data", "info", str(digits_shards)]) == 0
    assert "train" in capsys.readouterr().out


def test_shards_read_back_equal_to_their_source_in_order(digits_shards):
    for split in ("train", "test"):
        images, labels, _ = load_arrays("digits", split)
        packed, packed_labels, _ = load_arrays(str(digits_shards), split)
        np.testing.assert_array_equal(packed, images)
        np.testing.assert_array_equal(packed_labels, labels)
    # Another size or channel count: the stored images converted as every in-memory source converts
    # (crop to the aspect, antialiased resize; the graph twin of keras_gen.core.decoding's numpy).
    from keras_gen.core.decoding import prepare_uint8
    from keras_gen.images import from_uint8, to_uint8

    small, _, _ = load_arrays(str(digits_shards), "test", image_size=(12, 20), channels=3, limit=5)
    stored, _, _ = load_arrays(str(digits_shards), "test", limit=5)
    reference = from_uint8(prepare_uint8(to_uint8(stored), (12, 20), 3))
    assert small.shape == (5, 12, 20, 3)
    assert np.abs(small - reference).max() <= 1 / 127.5 + 1e-6  # one grey level of rounding


def test_training_data_from_shards_is_interleaved_batched_and_sharded_by_file(digits_shards):
    import tensorflow as tf

    from keras_gen.data import training_dataset

    dataset = training_dataset("labelled", str(digits_shards), shapes=((16, 16, 1),), batch_size=8, seed=0)
    images, labels = next(iter(dataset))
    assert images.shape == (8, 16, 16, 1) and labels.dtype == tf.int64
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    # Several files: workers of a multi-worker job read disjoint shards.
    assert dataset.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.FILE
    again = training_dataset("labelled", str(digits_shards), shapes=((16, 16, 1),), batch_size=8, seed=0)
    np.testing.assert_array_equal(next(iter(again))[1].numpy(), labels.numpy())  # seeded: the same batches


def test_cli_trains_on_shards(digits_shards, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "cdcgan", "--data", str(digits_shards), "--out", str(run), "--image-size", "16",
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--set", "base_filters=4",
                 "--set", "latent_dim=8", "--set", "embed_dim=4"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == str(digits_shards) and config["num_classes"] == 10
    assert (run / "checkpoints" / "last.keras").is_file()


def test_pairs_pack_and_train_a_paired_model(tmp_path):
    from keras_gen.data import load_arrays as arrays
    from keras_gen.data.training_data import describe_training_data, training_dataset
    from keras_gen.images import save_image, to_uint8
    from tests.models import toy_pix2pix  # noqa: F401  (registers the test-only paired model)

    a, _, _ = arrays("shapes", "train", image_size=16, channels=1, limit=24, seed=0)
    b, _, _ = arrays("shapes", "train", image_size=16, channels=3, limit=24, seed=1)
    for domain, images in (("A", a), ("B", b)):
        for i, image in enumerate(to_uint8(images)):
            save_image(image, tmp_path / "pairs" / domain / f"{i:03d}.png")
    out = tmp_path / "packed"
    assert main(["data", "pack", str(tmp_path / "pairs"), "--out", str(out), "--paired", "--image-size", "16"]) == 0
    index = read_index(out)
    assert index["kind"] == "paired" and index["image_shape"] == [16, 16, 1] and index["image_shape_b"] == [16, 16, 3]
    info = describe_training_data("paired", str(out))
    folder = describe_training_data("paired", str(tmp_path / "pairs"))
    assert (info.train_size, info.channels) == (folder.train_size, folder.channels)
    packed = training_dataset("paired", str(out), shapes=((16, 16, 3), (16, 16, 3)), batch_size=4, seed=0)
    plain = training_dataset("paired", str(tmp_path / "pairs"), shapes=((16, 16, 3), (16, 16, 3)), batch_size=4,
                             seed=0)
    for x, y in zip(next(iter(packed)), next(iter(plain))):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-6)  # the same pairs, in the same order
    with pytest.raises(Exception, match="paired images"):
        describe_training_data("images", str(out)) and training_dataset("images", str(out), shapes=((16, 16, 1),),
                                                                        batch_size=4, seed=0)


def test_pack_refusals_are_one_line(digits_shards, tmp_path, capsys):
    assert main(["data", "pack", "digits", "--out", str(digits_shards)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "pack", "digits", "--out", str(tmp_path / "x"), "--shard-mb", "0"]) == 2
    assert "--shard-mb must be a positive" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "is not a packed set" in capsys.readouterr().err
    assert not list(tmp_path.glob(".x.partial-*"))  # nothing half-written left behind


def test_across_hosts_shards_split_by_file_when_each_worker_gets_one(digits_shards):
    """The run's pipeline (keras_gen.training._dataset): with several workers, packed shards are
    read by file (each worker its own files) when there are at least as many files as workers;
    otherwise, and for every other source, each worker keeps its rows of every global batch."""
    import tensorflow as tf

    from keras_gen import registry
    from keras_gen.runs import RunConfig
    from keras_gen.training import _dataset

    policy = tf.data.experimental.AutoShardPolicy
    model = registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4)
    files = len(read_index(digits_shards)["splits"]["train"]["files"])
    for data, workers, expected in ((str(digits_shards), 2, policy.FILE), (str(digits_shards), files + 1, policy.DATA),
                                    (str(digits_shards), 1, policy.DATA), ("digits", 2, policy.DATA)):
        config = RunConfig("dcgan", data=data, batch_size=8, seed=0, steps_per_epoch=2)
        dataset = _dataset(config, model, 0, None, workers)
        assert dataset.options().experimental_distribute.auto_shard_policy == expected, (data, workers)
