"""The ``gantool`` command line: a Click group with one module per command. Commands only
parse and call; the work lives in importable modules.

TensorFlow is imported only inside commands that need it, so ``--help`` stays fast.
"""

import os
import sys
import traceback

import click

from gantool import VERBOSE_ENV, QuietNativeStderr, __version__
from gantool.cli.animate import animate
from gantool.cli.evaluate import eval_command
from gantool.cli.export import export_command
from gantool.cli.project import project
from gantool.cli.sample import sample
from gantool.cli.train import train
from gantool.errors import GantoolError, first_line


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gantool")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up and warning lines "
              f"(also ${VERBOSE_ENV}=1).")
@click.pass_context
def cli(ctx, verbose):
    """Train generative adversarial networks, sample from them and animate their training.

    \b
    Quick start:
      gantool train --arch mlp --dataset ring --epochs 20 --out runs/ring
      gantool sample --ckpt runs/ring --n 2000 --out ring.png
      gantool animate runs/ring
    """
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    ctx.with_resource(QuietNativeStderr())  # until the command returns or fails


for _command in (train, sample, animate, eval_command, export_command, project):
    cli.add_command(_command)


def main(argv=None):
    """Entry point: runs the CLI, turning gantool errors into one-line messages."""
    try:
        code = cli.main(args=argv, prog_name="gantool", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"Error: {e.format_message()}{hint}", err=True)
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except GantoolError as e:
        click.echo(f"Error: {e}", err=True)
        code = e.exit_code
    except OSError as e:
        click.echo(f"Error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""),
                   err=True)
        code = 1
    except Exception as e:  # an unforeseen failure (TensorFlow's, or a bug): still one line
        code = report_unexpected(e)
    sys.exit(code if isinstance(code, int) else 0)


def report_unexpected(error):
    """One ``Error:`` line naming the exception (the traceback too with ``--verbose`` or
    $GANTOOL_VERBOSE=1); returns the exit code 1."""
    if os.environ.get(VERBOSE_ENV):
        traceback.print_exception(error)
    detail = f": {first_line(error)}" if str(error).strip() else ""
    click.echo(f"Error: unexpected {type(error).__name__}{detail} (run 'gantool --verbose ...' "
               "for the traceback, and please report it)", err=True)
    return 1
