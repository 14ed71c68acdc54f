"""A caption (`text` input) through the edge server: REST and gRPC clients and `keras-gen query
--text` send it as a string and get the edge runner's images; bad captions are 400s."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import KerasGenError, registry
from keras_gen import inputs as kinds
from keras_gen.cli import main
from keras_gen.core.text import tokenize
from keras_gen.edge import EdgeModel
from keras_gen.images import to_uint8
from serving.client import ServingClient
from serving.requests import Limits
from serving.server import ServerOptions
from tests.serving.live_server import start_server

CAPTIONS = ["a large blue circle", "a small red triangle in the top left"]


@pytest.fixture(scope="module")
def text_export(tmp_path_factory):
    """A tiny text2img with spread weights, exported once: (EXPORTS dir, the Keras model)."""
    from export import export_model

    spec = registry.get("text2img")
    model = registry.build("text2img", image_size=16, channels=1, **spec.model_class.harness_options)
    rng = np.random.default_rng(3)
    for weight in model.generator.weights + model.text_encoder.weights:
        if "moving_variance" in weight.path:
            weight.assign(rng.uniform(0.5, 2.0, weight.shape).astype("float32"))
        else:
            weight.assign(rng.normal(0.0, 0.3, weight.shape).astype("float32"))
    root = tmp_path_factory.mktemp("text_exports")
    export_model(model, root, parity_n=4, training_info={"data": "shapes", "steps": 0})
    return root, model


@pytest.fixture(scope="module")
def live(text_export):
    root, _ = text_export
    options = ServerOptions(workers=2, queue=8, poll_seconds=0.5, limits=Limits(max_batch=16, max_body_bytes=1 << 20))
    server = start_server(root, options)
    yield server.rest_url, server.grpc_url
    server.stop()


def test_captions_sent_as_strings_give_the_edge_runners_and_the_keras_models_images(text_export, live):
    root, model = text_export
    edge = EdgeModel.from_path(root / "text2img")
    want = edge.sample(4, seed=7, caption=CAPTIONS)
    keras_images = to_uint8(model.sample(4, seed=7, caption=CAPTIONS)).astype(int)
    np.testing.assert_allclose(want.astype(int), keras_images, atol=1)
    assert not np.array_equal(want[0], want[1])  # the caption reaches the image
    for url in live:
        client = ServingClient(url, retries=0)
        inputs = client.signature_inputs("text2img", "sample")
        assert inputs["caption"][0] is object  # DT_STRING: clients need no vocabulary
        np.testing.assert_array_equal(client.sample("text2img", n=4, seed=7, caption=CAPTIONS), want)
        defaults = client.sample("text2img", n=3, seed=7)  # no caption: the model's examples in turn
        np.testing.assert_array_equal(defaults, edge.sample(3, seed=7))
        ids = tokenize(CAPTIONS, model.caption.vocabulary, model.caption.max_words)[0]
        drawn = kinds.resolve_inputs(edge.input_specs, 2, seed=1)
        z, eps = drawn["z"], drawn["condition_noise"]
        served = client.predict("text2img", {"z": z, "condition_noise": eps, "caption": CAPTIONS})
        direct = np.asarray(model.generate(z, eps, ids))
        np.testing.assert_allclose(served["images"].astype(int), np.round((direct + 1) * 127.5), atol=1)
        for bad, message in (("", "no words"), ("a " * 11, "more than 10|has 11 words")):
            with pytest.raises(KerasGenError, match=f"INVALID_ARGUMENT|400.*({message})|{message}"):
                client.sample("text2img", n=1, seed=0, caption=[bad])
        assert client.status("text2img")["model_version_status"][0]["state"] == "AVAILABLE"  # still up
        client.close()


def test_query_sends_text_and_writes_the_served_images(text_export, live, tmp_path):
    from PIL import Image

    from keras_gen.images import save_grid

    root, _ = text_export
    save_grid(EdgeModel.from_path(root / "text2img").sample(2, seed=4, caption=["a large blue circle"]),
              tmp_path / "want.png")
    want = np.asarray(Image.open(tmp_path / "want.png"))
    for i, url in enumerate(live):
        out = tmp_path / f"got{i}.png"
        assert main(["query", url, "--model", "text2img", "--n", "2", "--seed", "4", "--text", "a large blue circle",
                     "--out", str(out)]) == 0
        np.testing.assert_array_equal(np.asarray(Image.open(out)), want)
    # an unknown word is drawn (as the unknown-word token), not refused
    assert main(["query", live[0], "--model", "text2img", "--n", "1", "--text", "a zebra",
                 "--out", str(tmp_path / "z.png")]) == 0
    assert main(["query", live[0], "--model", "text2img", "--text", ""]) == 2  # one clear line, exit 2


def test_sample_text_on_the_export_warns_of_unknown_words_and_refuses_empty_captions(text_export, tmp_path, capsys):
    root, _ = text_export
    out = tmp_path / "samples.npz"
    assert main(["sample", str(root / "text2img"), "--n", "3", "--seed", "2", "--text", "a large zebra circle",
                 "--out", str(out)]) == 0
    assert "does not know 'zebra'" in capsys.readouterr().err
    want = EdgeModel.from_path(root / "text2img").sample(3, seed=2, caption=["a large zebra circle"])
    np.testing.assert_array_equal(np.load(out)["images"], want)
    for bad, message in (("", "has no words"), ("a " * 11, "has 11 words; this model reads at most 10")):
        assert main(["sample", str(root / "text2img"), "--n", "1", "--text", bad, "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert main(["sample", str(root / "text2img"), "--n", "1", "--label", "3", "--out", str(out)]) == 2
