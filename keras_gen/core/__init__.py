"""The TensorFlow-free core: everything that runs at the edge, importable without TensorFlow.

    errors.py       KerasGenError, the one exception type for errors a user can cause
    fileio.py       atomic writes (nothing half-written is visible under its final name)
    paths.py        whether a folder on the command line is a training run or an export
    images.py       uint8 <-> [-1, 1], channel conversion, grids, writing samples
    decoding.py     image files -> uint8 arrays: Pillow decoding, centre crop, antialiased resize
    latents.py      the seeded counter-based latents, codes and uniforms (numpy)
    inputs.py       InputSpec kinds and request resolution (numpy)
    schedulers.py   the diffusion noise schedules and DDPM / DDIM updates, over an array module
    samplers/       loop samplers (diffusion, PixelCNN) in numpy, found by name from a manifest
    edge/           the manifest, the TF Serving repository layout, ONNX safety, the onnxruntime
                    runner (EdgeModel) and its tuned sessions

Nothing here imports TensorFlow, Keras or tf2onnx, at any level (function bodies included),
nor any keras_gen module outside this package: tests/test_core_without_tensorflow.py imports
every module here in a fresh interpreter with those blocked, and reads every import statement.
Each algorithm that also runs inside a TensorFlow graph has its twin, written with TF ops and
tested equal, in the mirrored module of keras_gen/core_tf/ (latents.py <-> core_tf/latents.py).
The old import paths (keras_gen.images, keras_gen.inputs, keras_gen.latents, keras_gen.samplers,
keras_gen.edge, ...) still work and expose the same names, the TF twins among them on first use.

This file imports nothing, so importing one module of the core loads only what that module needs.
"""
