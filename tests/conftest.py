"""Shared fixtures. TensorFlow sees the CPU as 2 logical devices so that `mirrored` runs
2 replicas in tests; the default strategy still uses one device."""

import os
from pathlib import Path

import numpy as np
import pytest

import gantool  # noqa: F401  (first: it sets TensorFlow's environment, as the CLI does)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["GANTOOL_CPU_DEVICES"] = "2"

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANTOOL_SHARED", ROOT.parent / "shared"))
EXAMPLES = ROOT / "examples"
EXPERIMENTS = ROOT / "experiments"


def pytest_configure(config):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


@pytest.fixture(scope="session")
def experiment_script():
    """A loader: ``experiment_script("time_to_quality")`` imports experiments/NAME.py (a script,
    not a package module) and returns the module."""
    import importlib.util

    def load(name):
        spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def shared_data():
    """Path to ../shared/data, or skip where it is absent (a user's machine)."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (only developers' and CI machines have ../shared)")
    return path


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 24 small random RGB images in two class sub-folders, mixed formats and sizes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for i in range(24):
        sub = root / ("cats" if i % 2 else "dogs")
        sub.mkdir(parents=True, exist_ok=True)
        h, w = (40, 48) if i % 3 else (48, 40)
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ext = ("png", "jpg", "bmp")[i % 3]
        Image.fromarray(pixels).save(sub / f"img{i:02d}.{ext}")
    return root


@pytest.fixture
def mnist_npz(tmp_path):
    """A small MNIST-like npz file (64 random 28x28 uint8 digits under x_train)."""
    rng = np.random.default_rng(1)
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
    return path


def make_config(**values):
    """A TrainConfig from flat settings, leaving out the architecture settings that the chosen
    architecture does not take: one set of tiny widths serves every architecture in tests."""
    from gantool.config import TrainConfig
    from gantool.models import ARCHITECTURES

    arch = ARCHITECTURES.get(values.get("arch", TrainConfig.arch))
    foreign = {name for other in ARCHITECTURES for name in ARCHITECTURES.get(other).setting_names()
               if arch.setting(name) is None}
    return TrainConfig.create(**{k: v for k, v in values.items() if k not in foreign})
