"""How results are shown and kept: the printed table, ``RUN_DIR/eval.json`` with its history,
and ``--out`` JSON files."""

import json
from pathlib import Path

from gantool import rundir

# Scores in the order format_table prints them.
SCORE_KEYS = ("fid", "kid_mean", "precision", "recall", "modes_covered", "high_quality_pct",
              "reverse_kl")


def write_result(path, result):
    """Write ``result`` to the JSON file ``path`` atomically (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return rundir.write_json(path, result)


def write_eval_json(run_dir, result):
    """Write ``RUN_DIR/eval.json`` atomically: ``result`` at top level plus ``history``, the
    list of every evaluation so far (oldest first, this one last). An unreadable previous
    file starts a new history. Returns the path."""
    path = Path(run_dir) / rundir.EVAL
    history = []
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
            if isinstance(previous, dict) and isinstance(previous.get("history"), list):
                history = previous["history"]
        except (OSError, ValueError):
            history = []
    return write_result(path, {**result, "history": [*history, result]})


def short_name(spec):
    """``npz:/long/path/digits.npz`` -> ``npz:digits.npz``; names unchanged."""
    prefix, _, path = spec.partition(":")
    return f"{prefix}:{Path(path).name}" if path else spec


def _reference_text(result):
    """``(10000 generated vs 10000 real, mnist test)`` or ``(500 generated points, ring: 8
    modes)``: what every score of ``result`` was computed on."""
    if result.get("real_split") is not None:
        made = "samples" if result.get("samples") else "generated"
        return (f"({result['n_fake']} {made} vs {result['n_real']} real, "
                f"{short_name(result['real_dataset'])} {result['real_split']})")
    made = "sample" if result.get("samples") else "generated"
    return (f"({result['n_fake']} {made} points, {result['real_dataset']}: "
            f"{result.get('num_modes')} modes)")


def _rows(result):
    if result.get("features"):
        from .classifier import table_rows

        return table_rows(result)
    rows = []
    if "fid" in result:
        rows.append(("FID", f"{result['fid']:.2f}"))
    if "kid_mean" in result:
        rows.append(("KID", f"{result['kid_mean']:.5f} ± {result['kid_std']:.5f}"))
    if "precision" in result:
        rows.append(("precision", f"{result['precision']:.3f}"))
        rows.append(("recall", f"{result['recall']:.3f}"))
    if "modes_covered" in result:
        rows.append(("modes covered", f"{result['modes_covered']}/{result['num_modes']}"))
        rows.append(("high quality", f"{result['high_quality_pct']:.1f}%"))
        kl = result["reverse_kl"]
        rows.append(("reverse KL", "inf" if kl is None else f"{kl:.4f}"))
    return rows


def format_table(result):
    """A printable table; every score states its sample counts and reference, e.g.
    ``FID          23.41   (10000 generated vs 10000 real, mnist test)``."""
    where = result.get("run") or result.get("samples")
    lines = [f"{where}" + (f" ({result['checkpoint']})" if result.get("checkpoint") else "")]
    if result.get("features"):
        from .classifier import header_line

        lines.append(f"  {header_line(result)}")
    ref = _reference_text(result)
    rows = _rows(result)
    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines += [f"  {name:<{name_width}}  {value:>{value_width}}  {ref}" for name, value in rows]
    lines += [f"  note: {note}" for note in result.get("notes", [])]
    if result.get("seconds") is not None:
        lines.append(f"  ({result['seconds']:.1f} s)")
    return "\n".join(lines)
