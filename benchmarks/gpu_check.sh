#!/usr/bin/env bash
# The GPU check: training throughput on /GPU:0 (float32, mixed_float16, mixed_bfloat16; XLA on
# and off; batch 128 and 512) and a 2-replica `mirrored` exactness check, in at most ~8 minutes,
# written as one markdown table. Run it whenever a GPU machine is available:
#
#   bash benchmarks/gpu_check.sh            # on the GPU machine; writes benchmarks/gpu_check.md
#   bash benchmarks/gpu_check.sh --dry-run  # anywhere: the same steps on the CPU, tiny budgets
#
# OUT=path overrides the output file. The throughput numbers come from
# benchmarks/train_throughput.py (gantool's step against the tutorial-style baseline, float32),
# the mirrored check from benchmarks/gpu_mirrored_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python)}
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
OUT=${OUT:-benchmarks/gpu_check.md}
LOG=$(mktemp -d)
if [[ $DRY == 1 ]]; then
    DEVICE=/CPU:0; CASE="sine"; BATCHES="32"; PRECISIONS="float32"
    BUDGET=(--repeats 1 --steps 2); LIMIT=300
else
    DEVICE=/GPU:0; CASE="dcgan 32x32x3"; BATCHES="128 512"
    PRECISIONS="float32 mixed_float16 mixed_bfloat16"; BUDGET=(--repeats 3 --seconds 0.3)
    LIMIT=75
fi

{
    echo "# gantool GPU check"
    echo
    echo "- command: \`bash benchmarks/gpu_check.sh${1:+ $1}\`"
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -n)"
    echo "- device: $DEVICE; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
    echo "- versions: $($PY -c 'import tensorflow as tf, keras; print("tensorflow", tf.__version__, "keras", keras.__version__)' 2>/dev/null)"
    echo
    echo "| case | precision | batch | gantool default img/s | baseline img/s | default / baseline | fastest gantool variant (XLA on/off, steps per execution) | fastest / baseline |"
    echo "|---|---|---|---|---|---|---|---|"
} > "$OUT"

for precision in $PRECISIONS; do
    for batch in $BATCHES; do
        log="$LOG/$precision-$batch.txt"
        if timeout "$LIMIT" "$PY" benchmarks/train_throughput.py --device "$DEVICE" \
                --cases "$CASE" --precision "$precision" --batch-size "$batch" "${BUDGET[@]}" \
                > "$log" 2>&1; then
            # the Summary table's row: | case | default | baseline | ratio | ratio2 | fastest | ratio |
            row=$(grep -A4 '^## Summary' "$log" | grep '^|' | tail -1 || true)
            "$PY" - "$row" "$precision" "$batch" >> "$OUT" <<'PYEOF'
import sys
cells = [c.strip() for c in sys.argv[1].strip().strip("|").split("|")]
precision, batch = sys.argv[2], sys.argv[3]
if len(cells) >= 7:
    print(f"| {cells[0]} | {precision} | {batch} | {cells[1]} | {cells[2]} | {cells[3]} | "
          f"{cells[5]} | {cells[6]} |")
else:
    print(f"| ? | {precision} | {batch} | no summary row (see the log) | | | | |")
PYEOF
        else
            echo "| $CASE | $precision | $batch | failed or timed out after ${LIMIT}s: $(tail -1 "$log" | cut -c1-120) | | | | |" >> "$OUT"
        fi
    done
done

{
    echo
    echo "## 2-replica mirrored check"
    echo
    timeout "$LIMIT" "$PY" benchmarks/gpu_mirrored_check.py $([[ $DRY == 1 ]] && echo --cpu --steps 2) 2>/dev/null \
        || echo "mirrored check failed or timed out after ${LIMIT}s"
} >> "$OUT"
rm -rf "$LOG"
cat "$OUT"
