"""gantool: train, sample, animate and evaluate GANs with Keras 3 on TensorFlow."""

import os
import platform

__version__ = "0.1.0"

# gantool's models, train step and checkpoints are TensorFlow code: Keras must use that backend
# whatever the environment says (Keras reads this when it is first imported).
os.environ["KERAS_BACKEND"] = "tensorflow"

# TensorFlow enables its oneDNN CPU kernels by default only on some x86 CPUs (Intel ones with
# AVX-512 and the like); elsewhere, AMD EPYC included, convolutions fall back to slower Eigen
# kernels. benchmarks/step_profile.py --threads measured the DCGAN step 1.7-2.0x faster with
# oneDNN on a 2-core AMD EPYC. Only effective when set before TensorFlow is first imported; a
# user's own setting (0 or 1) wins.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
