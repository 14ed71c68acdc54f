"""A pool of past fakes for the discriminator (Shrivastava et al. 2017, section 2.3; CycleGAN,
Zhu et al. 2017, section 4): D is updated on a mix of the newest generated images and images the
generator made earlier, so it does not forget them and G cannot oscillate between modes D has
stopped checking.

For each image of a batch, in order (pytorch-CycleGAN-and-pix2pix's util/image_pool.py):

    pool not full   store it, and hand it to D
    else, p = 1/2   hand D a stored image drawn uniformly, and store the new one in its place
    else            hand D the new image

The pool is the layer's weights (`images` (size, H, W, C) and `count`), so checkpoints carry it
and a resumed run draws from the same history; the draws come from the seed the caller passes
(a model's per-replica seed), so the same seed gives the same choices.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_gen")
class ImagePool(keras.layers.Layer):
    """`query(images (B, H, W, C), seed)` -> (B, H, W, C): what D sees of the fakes."""

    def __init__(self, size: int = 50, image_shape: tuple = (32, 32, 3), **kwargs):
        super().__init__(**kwargs)
        self.size, self.image_shape = int(size), tuple(int(d) for d in image_shape)
        # only_first_replica: under a strategy every replica would write its own fakes; the pool
        # keeps the first replica's (a history of the game either way).
        self.images = self.add_weight(shape=(max(self.size, 1), *self.image_shape), initializer="zeros",
                                      trainable=False, name="images", aggregation="only_first_replica")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count",
                                     aggregation="only_first_replica")
        self.built = True

    def query(self, images, seed):
        """The images D is shown for this batch of fakes, the pool updated (a no-op pool of size 0
        returns the batch). `seed`: a stateless seed (2,) tensor."""
        import tensorflow as tf

        if self.size == 0:
            return images
        images = tf.convert_to_tensor(images)
        batch = tf.shape(images)[0]
        take_old = tf.random.stateless_uniform((batch,), seed=seed) < 0.5  # (B,)
        slot = tf.random.stateless_uniform((batch,), seed=seed + 1, maxval=self.size, dtype=tf.int32)  # (B,)

        def step(i, pool, count, shown):
            image = images[i]
            filling = count < self.size
            index = tf.where(filling, count, slot[i])
            swap = tf.logical_and(tf.logical_not(filling), take_old[i])
            shown = shown.write(i, tf.where(swap, pool[index], image))
            stored = tf.logical_or(filling, swap)
            pool = tf.where(stored, tf.tensor_scatter_nd_update(pool, [[index]], image[None]), pool)
            return i + 1, pool, tf.minimum(count + 1, self.size), shown

        shown = tf.TensorArray(images.dtype, size=batch, element_shape=images.shape[1:])
        _, pool, count, shown = tf.while_loop(lambda i, *_: i < batch, step,
                                              (tf.constant(0), tf.convert_to_tensor(self.images), self.count + 0,
                                               shown))
        self.images.assign(pool)
        self.count.assign(count)
        return tf.stop_gradient(shown.stack())

    def call(self, images):
        return images  # the pool is used through query(); calling the layer is the identity

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": list(self.image_shape)}


__all__ = ["ImagePool"]
