"""The edge server's web page in headless Chromium (Debian's `chromium`, driven by Playwright's
Python API with the system executable): it loads, a sampled grid is the edge runner's own images
(the page sends every input the signature declares, as the strict server requires), an
interpolation starts and ends on the two seeds' samples (the page draws latents as
keras_gen.latents does), and an upload is sent as pixels (a file that is no picture is named)."""

import shutil
import struct
import zlib

import numpy as np
import pytest

from keras_gen import latents
from keras_gen.edge import EdgeModel
from tests.serving.live_server import start_server

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def exports(served, tmp_path_factory):
    """EXPORTS with the session's 16 px DCGAN and a tiny 8 px autoencoder (it takes an image)."""
    from export import export_model
    from keras_gen import registry
    from tests.export.export_helpers import TRAINING_INFO

    root = tmp_path_factory.mktemp("web")
    shutil.copytree(served[2], root / "dcgan" / "1")
    autoencoder = registry.build("autoencoder", image_size=8, channels=1, code_dim=4, filters=4, downsamplings=2)
    export_model(autoencoder, root, training_info=TRAINING_INFO)
    return root


@pytest.fixture(scope="module")
def page(exports):
    """A Chromium page on the edge server (uvicorn in a thread, a free port), loaded and ready."""
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "chromium is missing: `make test` installs it (apt-get install chromium)"
    server = start_server(exports, grpc=False)
    url = server.rest_url + "/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page()
        errors = []
        tab.on("pageerror", lambda error: errors.append(error))
        tab.goto(url)
        tab.wait_for_selector("body[data-ready=true]", timeout=30000)
        tab.js_errors = errors
        yield tab
        browser.close()
    server.stop()


def choose_model(page, name):
    """Select `name` and wait until the page has switched to it: the model list is disabled from
    the change until the model's status and metadata are read and its fields drawn. Its info
    line alone does not say so when `name` is already shown (selecting it switches again): the
    switch clears the grid and the interpolation path when its status arrives, which on busy
    cores can be after this test's own request has drawn them."""
    page.select_option("#model", name)
    page.wait_for_function("name => !document.querySelector('#model').disabled"
                           " && document.querySelector('#model-info').textContent.startsWith(name)", arg=name)


def canvases(page, selector):
    """The uint8 (N, H, W) grey images drawn in the canvases under `selector` (their red channel)."""
    images = page.eval_on_selector_all(f"{selector} canvas", """cs => cs.map(c => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height);
        return {w: c.width, h: c.height, red: Array.from(d.data.filter((_, i) => i % 4 === 0))}; })""")
    return np.array([np.array(i["red"], np.uint8).reshape(i["h"], i["w"]) for i in images])


def test_page_loads_and_samples_the_edge_runners_grid(page, exports):
    assert page.title() == "keras-gen edge server"
    assert page.eval_on_selector_all("#model option", "os => os.map(o => o.value)") == ["autoencoder", "dcgan"]
    choose_model(page, "dcgan")
    assert page.is_visible("#interpolate-section") and page.input_value("#version") == "1"
    page.fill("#n", "6")
    page.fill("#seed", "5")
    with page.expect_request("**/*:predict") as request:
        page.click("#sample")
    page.wait_for_function("document.querySelectorAll('#grid canvas').length === 6")
    # every input of the signature, the option at the default the metadata declares
    assert request.value.post_data_json["inputs"] == {"n": 6, "seed": 5, "truncation": 1.0}
    edge = EdgeModel.from_path(exports / "dcgan")
    np.testing.assert_array_equal(canvases(page, "#grid"), edge.sample(6, seed=5)[..., 0])
    assert page.is_hidden("#error") and not page.js_errors


def test_interpolation_uses_keras_gen_latents_and_ends_on_both_seeds(page, exports):
    # The page's latents and slerp are keras_gen.latents' numbers.
    got = page.evaluate("[...kerasGenLatents.gaussianLatents(3, 16, 4000000000, 2)]")
    np.testing.assert_allclose(got, latents.gaussian_latents(3, 16, 4000000000, 2).ravel(), atol=2e-6)
    got = page.evaluate("[...kerasGenLatents.categoricalCodes(50, 7, 9, 1)]")
    np.testing.assert_array_equal(got, latents.categorical_codes(50, 7, 9, 1))
    got = page.evaluate("[...kerasGenLatents.uniformCodes(4, 3, 9, 3)]")
    np.testing.assert_allclose(got, latents.uniform_codes(4, 3, 9, 3).ravel(), atol=1e-7)
    a, b = latents.gaussian_latents(1, 16, 1)[0], latents.gaussian_latents(1, 16, 2)[0]
    got = page.evaluate(f"kerasGenLatents.slerp({a.tolist()}, {b.tolist()}, kerasGenLatents.linspace(0, 1, 5))")
    np.testing.assert_allclose(got, latents.slerp(a, b, np.linspace(0, 1, 5)), atol=1e-6)

    choose_model(page, "dcgan")
    page.fill("#seed-a", "11")
    page.fill("#seed-b", "12")
    page.fill("#path-steps", "5")
    page.click("#interpolate")
    page.wait_for_function("document.querySelectorAll('#path canvas').length === 5")
    path = canvases(page, "#path").astype(int)
    edge = EdgeModel.from_path(exports / "dcgan")
    # the ends are seed A's and seed B's first sample (up to a uint8 rounding step); between, they differ
    assert np.abs(path[0] - edge.sample(1, seed=11)[0, ..., 0]).max() <= 1
    assert np.abs(path[-1] - edge.sample(1, seed=12)[0, ..., 0]).max() <= 1
    assert np.abs(path[2] - path[0]).max() > 1 and np.abs(path[2] - path[-1]).max() > 1


def _grey_png(array: np.ndarray) -> bytes:
    """A grey PNG without PIL's help (so the test checks the page, not a shared encoder)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = array.shape
    raw = b"".join(b"\0" + array[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_bad_upload_is_named_and_a_good_one_is_fitted(page, exports, tmp_path):
    choose_model(page, "autoencoder")
    assert page.is_visible("#input-image")
    assert page.is_hidden("#interpolate-section")  # no latent input: nothing to interpolate
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"this is not an image")
    page.set_input_files("#input-image", str(bad))
    page.fill("#n", "2")
    page.click("#sample")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "photo.png: not a PNG or JPEG image this browser can read"
    assert page.eval_on_selector_all("#grid canvas", "cs => cs.length") == 0

    good = tmp_path / "square.png"  # 16x16: the page fits it to the model's 8x8 grey input
    good.write_bytes(_grey_png(np.kron(np.eye(2, dtype=np.uint8) * 255, np.ones((8, 8), np.uint8))))
    page.set_input_files("#input-image", str(good))
    page.wait_for_function("document.querySelector('#error').hidden")
    with page.expect_request("**/*:predict") as request:
        page.click("#sample")
    page.wait_for_function("document.querySelectorAll('#grid canvas').length === 2")
    assert page.is_hidden("#error") and canvases(page, "#grid").shape == (2, 8, 8)
    sent = request.value.post_data_json
    assert set(sent["inputs"]) == {"n", "seed", "image"}  # every input, the image as uint8 pixels
    assert np.asarray(sent["inputs"]["image"]).shape == (1, 8, 8, 1)
    assert not page.js_errors
