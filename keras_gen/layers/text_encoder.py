"""A small caption encoder: token ids -> one vector per caption, trained with the model that reads it.

    ids (B, L) -> Embedding (B, L, E) -> Conv1D k=3 ReLU (B, L, E) -> masked mean over words -> Dense (B, D)

Word embeddings, one convolution over neighbouring words (so "top left" and "left" differ from
the words alone), and the mean over the caption's words (PAD positions, id 0, are left out).
StackGAN and Reed et al. 2016 read a pretrained char-CNN-RNN embedding; here the encoder is
trained with the generative model on its own captions (text2img: by the discriminators'
matching-aware loss; tddpm: by the denoising loss), which suits closed vocabularies such as the
shapes captions. A caption of PADs only (the "no caption" of classifier-free guidance) has no
words: its mean is zero and its vector is the last layer's bias, a learned null caption.
Everything is plain ONNX (Gather, Conv, ReduceSum, Div): the caption's vector is computed in the
exported network.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_gen.core.text import FIRST_WORD_ID, PAD


@keras.saving.register_keras_serializable(package="keras_gen")
class MaskedMeanPooling(layers.Layer):
    """[features (B, L, E), ids (B, L)] -> mean of the features over positions whose id is not PAD (B, E)."""

    def call(self, inputs):
        features, ids = inputs
        present = ops.cast(ops.not_equal(ids, PAD), features.dtype)[..., None]  # (B, L, 1)
        total = ops.sum(features * present, axis=1)
        count = ops.maximum(ops.sum(present, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shapes):
        features, _ = input_shapes
        return (features[0], features[2])


def build_text_encoder(vocabulary_size: int, max_words: int, embed_dim: int, output_dim: int,
                       name: str = "text_encoder") -> keras.Model:
    """ids (B, max_words) int32 over a vocabulary of `vocabulary_size` words (+ PAD and UNK) ->
    (B, output_dim) caption vectors."""
    ids = keras.Input((max_words,), dtype="int32", name="caption")
    words = layers.Embedding(vocabulary_size + FIRST_WORD_ID, embed_dim, name="word_embedding")(ids)  # (B, L, E)
    context = layers.Conv1D(embed_dim, 3, padding="same", activation="relu", name="word_context")(words)
    pooled = MaskedMeanPooling(name="caption_mean")([layers.Add(name="words_in_context")([words, context]), ids])
    return keras.Model(ids, layers.Dense(output_dim, name="caption_vector")(pooled), name=name)
