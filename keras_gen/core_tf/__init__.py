"""The TensorFlow twins of the core: the same algorithms as keras_gen/core/, written in TF ops.

Each module mirrors one of the core and holds only what must run inside a TensorFlow graph
(SavedModel endpoints, tf.function, tf.data): the numpy version stays in the core, which the
edge runs without TensorFlow, and a test holds each pair equal ("one algorithm, two runtimes").

    latents.py      gaussian_latents_tf, uniform_codes_tf, categorical_codes_tf   (core/latents.py)
    inputs.py       tensor_spec, draw_tf, resolve_inputs_tf, check_request_tf     (core/inputs.py)
    images.py       to_uint8_tf, from_uint8_tf, convert_channels_tf               (core/images.py)
    schedulers.py   TF, the array namespace the diffusion scheduler runs on       (core/schedulers.py)
    samplers.py     the samplers' tf.while_loop versions (run_tf)                 (core/samplers/)

These modules import TensorFlow at the top: the old import paths (keras_gen.latents, ...)
reach them on first use of a twin, so importing those paths stays free of TensorFlow.
"""
