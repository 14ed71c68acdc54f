"""One worker of a multi-worker training job on this machine (run by tests/test_scale_workers.py,
two at a time, each with its TF_CONFIG): `keras_gen.training.train(RUN, config, resume="auto")`
with --strategy multiworker, as `keras-gen train ... --strategy multiworker --auto-resume` runs
it in a TFJob's pod. Prints one JSON line with the run's summary.

    TF_CONFIG=... python tests/scripts/worker_train.py RUN CONFIG_JSON [--stall-in-epoch E --marker FILE]

--stall-in-epoch E: at the second batch of epoch E (1-based), write FILE and wait there, so the
test can kill the worker mid-epoch (after epoch E - 1's checkpoint, before epoch E's).
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

from keras_gen.distribute import make_strategy  # noqa: E402

strategy = make_strategy("multiworker")  # first: before TensorFlow runs anything else

import keras  # noqa: E402

from keras_gen.runs import RunConfig  # noqa: E402
from keras_gen.training import train  # noqa: E402


class StallMidEpoch(keras.callbacks.Callback):
    def __init__(self, epoch: int, marker: Path):
        super().__init__()
        self.epoch, self.marker, self.current = epoch, marker, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            self.marker.write_text(str(os.getpid()))
            while True:  # until killed
                time.sleep(1)


def main(argv):
    run, config_path = Path(argv[0]), Path(argv[1])
    callbacks = []
    if "--stall-in-epoch" in argv:
        callbacks.append(StallMidEpoch(int(argv[argv.index("--stall-in-epoch") + 1]),
                                       Path(argv[argv.index("--marker") + 1])))
    config = RunConfig.from_dict(json.loads(config_path.read_text()))
    summary = train(run, config, resume="auto", callbacks=callbacks, verbose=0, strategy=strategy)
    keep = ("initial_epoch", "epochs", "replicas", "workers", "worker", "strategy")
    print(json.dumps({k: summary[k] for k in keep} | {"chief_files": "checkpoint" in summary}))


if __name__ == "__main__":
    main(sys.argv[1:])
