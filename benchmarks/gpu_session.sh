#!/usr/bin/env bash
# The GPU checks of one session, as one command (a lent GPU machine's time is short and every
# start costs minutes, so everything runs in one go, each part under its own time limit, and a
# part that fails does not stop the others).
#
#   DATA=.devdata OUT=/tmp/gpu bash benchmarks/gpu_session.sh [SECONDS]
#
# DATA holds what the machine cannot fetch: prose.jsonl.xz (../shared/tools/build_corpus.sh's
# prose.jsonl, xz-compressed), shared_data/ (a copy of ../shared/data) and whl/ (wheels of
# packages missing there: datasets, dill, multiprocess). SECONDS (default 560) is the whole
# budget; the SimCSE comparison gets what the throughput benchmark leaves.
#
# Parts:
#   1. benchmarks/encoder_throughput.py: BERT-base layout, bf16, seq 128, batch 64, one round
#      of ours (JAX), PyTorch eager and torch.compile, on the GPU.
#   2. experiments/repro_simcse.py with encoder.model.size=mini (the README's open question:
#      does model size limit SimCSE at 2 M tokens?): simcse then mlm, 3 seeds, the CPU run's
#      budget and settings otherwise; its prose token cache builds on the CPU while part 1 runs.
# SIMCSE_EXTRA and THROUGHPUT_EXTRA append arguments (a dry run on a CPU: tiny sizes).
# Everything it reports lands in $OUT (logs, BENCHMARKS-style section, comparison tarball).
set -u
budget=${1:-560}
started=$(date +%s)
: "${DATA:?set DATA}" "${OUT:?set OUT}"
DATA=$(cd "$DATA" && pwd)
export PYTHONUNBUFFERED=1
# Two JAX processes share the GPU at times (part 1 and part 2): neither may take 75 % of it.
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.35
left() { echo $((budget - ($(date +%s) - started))); }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$DATA"/whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
python3 - <<'EOF' 2>&1 | tee "$OUT/versions.txt"
import importlib, jax
for name in ["jax", "jaxlib", "flax", "optax", "orbax.checkpoint", "tokenizers", "datasets",
             "pyarrow", "torch", "transformers", "numpy"]:
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as error:  # a missing package is a finding here, not a stop
        print(name, "FAILED:", repr(error)[:200])
print("devices", jax.devices())
EOF
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$OUT/versions.txt"

mkdir -p /tmp/bench && xz -d -c "$DATA/prose.jsonl.xz" > /tmp/bench/prose.jsonl
export STRATA_BENCH_CORPUS=/tmp/bench STRATA_EVAL_DATA=$DATA/shared_data

# Part 2 starts first: its first minutes are the CPU-bound token cache; its GPU training begins
# about when part 1 ends (part 1's log says if they overlapped).
simcse() {
    python3 launch.py experiments/repro_simcse.py --workdir /tmp/repro_simcse_mini \
        --set encoder.model.size=mini --set objectives=[] \
        --set 'methods={"simcse": {"objective.kind": "contrastive", "objective.positives": "dropout"}, "mlm": {"objective.kind": "mlm"}}' \
        --set baselines=[] --set token_budget=2000000 ${SIMCSE_EXTRA:-}
}
(timeout $(($(left) - 25)) bash -c "$(declare -f simcse); simcse" > "$OUT/simcse.log" 2>&1;
 echo "simcse exit $?" >> "$OUT/simcse.log") &
simcse_pid=$!

echo "part 1 starts $(date +%T)" > "$OUT/throughput.log"
timeout 240 python3 benchmarks/encoder_throughput.py --size base --seq-len 128 --batch 64 \
    --dtype bfloat16 --torch-bf16 --rounds 1 --steps 30 --warmup 3 \
    --out "$OUT/BENCHMARKS_gpu.md" --json "$OUT/throughput.json" ${THROUGHPUT_EXTRA:-} \
    >> "$OUT/throughput.log" 2>&1
echo "part 1 exit $? at $(date +%T); simcse log so far:" >> "$OUT/throughput.log"
tail -3 "$OUT/simcse.log" >> "$OUT/throughput.log"

wait "$simcse_pid"
cd /tmp && tar czf "$OUT/simcse.tgz" --exclude='checkpoints' --exclude='*.npy' \
    repro_simcse_mini 2>/dev/null
echo "done at $(date +%T), $(($(date +%s) - started)) s"
