"""``gantool export``: the generator as a Keras file, a SavedModel or a TFLite flatbuffer (see
:mod:`gantool.export`)."""

import click

from gantool.cli import options

FORMATS = ("keras", "savedmodel", "tflite")  # gantool.export.FORMATS, without importing it


@click.command("export")
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="savedmodel",
              show_default=True, help="keras: a .keras file; savedmodel: a TensorFlow "
              "SavedModel folder; tflite: a .tflite flatbuffer.")
@options.out_option("Where to write [default: RUN_DIR/export/generator.keras, saved_model or "
                    "generator.tflite]; OUT.json beside it describes the inputs and outputs.")
@options.ema_option()
def export_command(run_dir, fmt, out, ema):
    """Export the generator to run without gantool (signature generate: z -> images in
    [-1, 1])."""
    options.quiet_tensorflow()
    from gantool import rundir
    from gantool.export import export

    path, meta = export(rundir.Run.open(run_dir), fmt, out, ema=ema)
    click.echo(f"wrote {path} (+ {meta})")
