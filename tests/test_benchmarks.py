"""Smoke test of the benchmark scripts: the GPU check runs end to end on the CPU."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_writes_its_table(tmp_path):
    out = tmp_path / "gpu_check.md"
    env = {**os.environ, "OUT": str(out), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("GANTOOL_CPU_DEVICES", None)
    subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=550)
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 2-D sine") or
            line.startswith("| mlp 2-D sine")]
    assert rows, text
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "float32" and cells[2] == "32"
    rates = [float(c.replace(",", "")) for c in cells[3:5]]  # images/s of gantool, baseline
    assert min(rates) > 0
    assert "| 2  " in text and "PASS" in text, text  # the 2-replica check agreed
