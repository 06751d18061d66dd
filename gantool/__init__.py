"""gantool: train, sample, animate and evaluate GANs with Keras 3 on TensorFlow."""

import os

__version__ = "0.1.0"

# gantool's models, train step and checkpoints are TensorFlow code: Keras must use that backend
# whatever the environment says (Keras reads this when it is first imported).
os.environ["KERAS_BACKEND"] = "tensorflow"
