"""The package stays readable: small modules, short functions, one home per concept."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gantool"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small_and_functions_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path}: over {MAX_MODULE_LINES} lines"
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree) or ""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            # a longer function must say why in its module's docstring
            assert length <= MAX_FUNCTION_LINES or node.name in docstring, (
                f"{path}:{node.lineno} {node.name} is {length} lines")


def test_the_cli_and_the_registries_import_without_tensorflow():
    code = ("import sys, gantool.cli, gantool.models, gantool.losses, gantool.data, "
            "gantool.rundir, gantool.config\n"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("clean")


def test_run_directory_names_are_spelled_only_in_rundir():
    """Every file name of the run directory lives in gantool/rundir.py."""
    names = ('"config.json"', '"metrics.csv"', '"steps.csv"', '"training.png"', '"eval.json"',
             '"generator.keras"', '"checkpoints"', '"fixed_latents.npy"', '"real_points.npy"')
    offenders = [f"{path.relative_to(PACKAGE)}: {name}" for path in MODULES
                 if path.name != "rundir.py" for name in names if name in path.read_text()]
    assert not offenders
