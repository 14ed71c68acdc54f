"""Bad input to every GAN: labels out of range, a wrong latent size, options outside their
range, each one clear KerasGenError (a request to the SavedModel fails instead of sampling)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError, registry

GANS = sorted(n for n in registry.names() if registry.get(n).family == "adversarial")


def _tiny(name):
    spec = registry.get(name)
    labelled = spec.data_kind == "labelled"
    return registry.build(name, image_size=16, channels=1, num_classes=10 if labelled else None,
                          **spec.model_class.harness_options)


def test_every_gan_of_the_family_is_covered():
    assert {"dcgan", "cdcgan", "wgan", "wgan_gp", "acgan", "infogan"} <= set(GANS)


@pytest.mark.parametrize("name", GANS)
def test_bad_requests_are_clear_errors(name):
    model = _tiny(name)
    latent = model.request_specs()[0]
    with pytest.raises(KerasGenError, match=rf"z takes arrays of shape \(N, {latent.shape[0]}\)"):
        model.sample(2, seed=0, z=np.zeros((2, latent.shape[0] + 1), np.float32))
    with pytest.raises(KerasGenError, match="NaN"):
        model.sample(2, seed=0, z=np.full((2, latent.shape[0]), np.nan, np.float32))
    with pytest.raises(KerasGenError, match="--n must be"):
        model.sample(0, seed=0)
    for spec in model.request_specs():
        if spec.num_classes:  # labels and categorical codes
            for bad in (spec.num_classes, -1):
                with pytest.raises(KerasGenError, match=f"from 0 to {spec.num_classes - 1}"):
                    model.sample(2, seed=0, **{spec.name: bad})
            with pytest.raises(KerasGenError, match="whole numbers"):
                model.sample(2, seed=0, **{spec.name: 0.5})


@pytest.mark.parametrize("name", ["cdcgan", "acgan", "infogan"])
def test_the_sample_endpoint_refuses_a_class_out_of_range(name):
    model = _tiny(name)
    endpoint = model.export_endpoints()["sample"]
    specs = endpoint.inputs[2:]  # after n and seed
    given = {s.name: tf.zeros((0, *s.shape), s.dtype) for s in specs}  # empty codes: drawn from the seed
    coded = next(s for s in specs if s.num_classes)
    given[coded.name] = tf.constant([coded.num_classes], tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{coded.name} must be <="):
        endpoint.fn(tf.constant(2), tf.constant(0, tf.int64), *[given[s.name] for s in specs])


@pytest.mark.parametrize("name", GANS)
def test_options_outside_their_range_are_clear_errors(name):
    spec = registry.get(name)
    for pair, message in (("ema=1.5", "ema must be <="), ("learning_rate=0", "learning_rate must be >"),
                          ("n_critic=0", "n_critic must be >= 1"), ("loss=bce", "loss must be one of"),
                          ("latent_dim=0", "latent_dim must be >= 1"), ("seed=-1", "seed must be >= 0")):
        with pytest.raises(KerasGenError, match=message):  # `--set` on the command line
            registry.parse_options(spec, [pair])
        key, value = pair.split("=")
        with pytest.raises(KerasGenError, match=message):  # the library
            registry.build(name, image_size=16, channels=1, num_classes=10, **{key: value})
