"""Image-caption matching by contrast within a batch: the symmetric InfoNCE loss of CLIP (Radford
et al. 2021), the sentence-level DAMSM loss of AttnGAN (Xu et al. 2018) and XMC-GAN's
image-sentence term (Zhang et al. 2021).

With v_i and t_i the L2-normalised image and caption vectors of pair i of a batch of B, and tau
a temperature,

    s_ij = v_i . t_j / tau
    L = 1/2 [ CE(softmax_j s_ij, i) + CE(softmax_i s_ij, j) ]    (mean over i; over j)

each image must pick its own caption among the batch's captions, and each caption its own
image: every attribute in which two captions of the batch differ is a reason to tell them apart.
"""

from __future__ import annotations

from keras import ops


def matching_loss(image_vectors, caption_vectors, temperature: float = 0.1, both_ways: bool = True):
    """Symmetric InfoNCE (or image -> caption only) over the batch, as a float32 scalar."""
    v = ops.normalize(ops.cast(image_vectors, "float32"), axis=-1)
    t = ops.normalize(ops.cast(caption_vectors, "float32"), axis=-1)
    logits = ops.matmul(v, ops.transpose(t)) / temperature  # (B, B): image i against caption j
    own = ops.arange(ops.shape(logits)[0])
    image_to_caption = ops.mean(ops.sparse_categorical_crossentropy(own, logits, from_logits=True))
    if not both_ways:
        return image_to_caption
    caption_to_image = ops.mean(ops.sparse_categorical_crossentropy(own, ops.transpose(logits), from_logits=True))
    return 0.5 * (image_to_caption + caption_to_image)


def matching_accuracy(image_vectors, caption_vectors):
    """Share of images whose most similar caption of the batch is their own."""
    logits = ops.matmul(ops.normalize(ops.cast(image_vectors, "float32"), axis=-1),
                        ops.transpose(ops.normalize(ops.cast(caption_vectors, "float32"), axis=-1)))
    return ops.mean(ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.arange(ops.shape(logits)[0])), "float32"))
