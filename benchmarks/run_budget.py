"""A training budget the benchmarks share: stop a `fit` after a given amount of CPU time."""

from __future__ import annotations

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the first epoch that ends after `cpu_seconds` of this process's
    CPU time (all its threads, tf.data's included); counts the steps taken.

    CPU time, not wall time, so that other jobs on the machine mostly stretch the wall time a row
    takes rather than cut its training."""

    def __init__(self, cpu_seconds: float):
        super().__init__()
        self.cpu_seconds, self.started, self.steps = cpu_seconds, None, 0

    def on_train_begin(self, logs=None):
        self.started = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if time.process_time() - self.started >= self.cpu_seconds:
            self.model.stop_training = True
