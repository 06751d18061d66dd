"""Export a run's generator to run without gantool: a Keras file, a TensorFlow SavedModel or a
TFLite flatbuffer, each with a small JSON beside it (``OUT.json``) saying what it takes and
returns.

The weights are those :func:`gantool.sampling.uses_ema` chooses (the moving averages of a run
trained with ``--ema``). The SavedModel and TFLite files hold one serving signature,
``generate``: ``z`` float32 (batch, latent_dim) (and, for conditional runs, ``label`` int32
(batch,)) -> ``images`` float32 (batch, H, W, C) in [-1, 1] (``points`` (batch, 2) for 2-D
data), exactly what ``gantool sample`` generates for those latents before quantising.
"""

import shutil
import tempfile
from pathlib import Path

from gantool import rundir, sample_output
from gantool.errors import UsageError
from gantool.sampling import load_generator, uses_ema

FORMATS = ("keras", "savedmodel", "tflite")
EXPORT_DIR = "export"
DEFAULT_NAMES = {"keras": rundir.GENERATOR, "savedmodel": "saved_model",
                 "tflite": "generator.tflite"}
SIGNATURE = "generate"


def metadata(run, fmt, ema=None):
    """The JSON-able description written beside an export (latent size, distribution and value
    range, data shape, the signature's names)."""
    config = run.config
    output = "points" if config.data_kind == "points" else "images"
    inputs = {"z": {"dtype": "float32", "shape": [None, config.latent_dim]}}
    if config.conditional:
        inputs["label"] = {"dtype": "int32", "shape": [None], "classes": config.num_classes}
    return {"format": fmt, "signature": SIGNATURE, "inputs": inputs,
            "outputs": {output: {"dtype": "float32", "shape": [None, *config.data_shape]}},
            "latent_dim": config.latent_dim, "latent_dist": config.latent_dist,
            "value_range": [-1.0, 1.0] if output == "images" else None,
            "data_shape": list(config.data_shape), "data_kind": config.data_kind,
            "conditional": bool(config.conditional), "num_classes": config.num_classes,
            "ema_weights": uses_ema(config, ema), "checkpoint": str(run.checkpoint)}


def metadata_path(out):
    return Path(out).with_name(Path(out).name + ".json")


def export(run, fmt="savedmodel", out=None, ema=None):
    """Write ``run``'s generator (a :class:`~gantool.rundir.Run`) as ``fmt`` to ``out``
    [default: RUN_DIR/export/<name>]; returns ``(out, metadata_path)``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out) if out else run.file(EXPORT_DIR) / DEFAULT_NAMES[fmt]
    if fmt == "keras" and out.suffix != ".keras":
        raise UsageError(f"--out {out}: a Keras export must end in .keras")
    if fmt == "savedmodel" and out.exists() and not (out / "saved_model.pb").is_file():
        raise UsageError(f"--out {out} exists and is not a SavedModel; refusing to replace it")
    sample_output.prepare_location(out, "folder" if fmt == "savedmodel" else "file")
    generator = load_generator(run, ema=ema)
    if fmt == "keras":
        with rundir.atomic_path(out) as tmp:
            generator.save(tmp)
    elif fmt == "savedmodel":
        _write_saved_model_atomically(generator, run.config, out)
    else:
        _write_tflite(generator, run.config, out)
    return out, rundir.write_json(metadata_path(out), metadata(run, fmt, ema))


def _serving_function(generator, config):
    """``generate(z[, label]) -> {"images" or "points": float32}`` and its input signature."""
    import tensorflow as tf

    key = "points" if config.data_kind == "points" else "images"
    z = tf.TensorSpec((None, config.latent_dim), tf.float32, name="z")
    if config.conditional:
        def generate(z, label):
            return {key: tf.cast(generator([z, label], training=False), tf.float32)}

        return generate, [z, tf.TensorSpec((None,), tf.int32, name="label")]

    def generate(z):
        return {key: tf.cast(generator(z, training=False), tf.float32)}

    return generate, [z]


def write_saved_model(generator, config, path):
    """A SavedModel at ``path`` with the one signature ``generate`` (see the module docstring)."""
    import keras

    fn, signature = _serving_function(generator, config)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(SIGNATURE, fn, input_signature=signature)
    archive.write_out(str(path), verbose=False)


def _write_saved_model_atomically(generator, config, out):
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        write_saved_model(generator, config, tmp / "model")
        if out.exists():
            shutil.rmtree(out)
        (tmp / "model").replace(out)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(out)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_tflite(generator, config, out):
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="gantool-export-") as tmp:
        write_saved_model(generator, config, Path(tmp) / "model")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "model"),
                                                             signature_keys=[SIGNATURE])
        flatbuffer = converter.convert()
    with rundir.atomic_path(out) as path:
        path.write_bytes(flatbuffer)
