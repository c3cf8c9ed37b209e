#!/usr/bin/env bash
# The GPU checks of docs/gpu.md in one timed pass: the paper's study (3 learners x 15 rounds,
# ResNet50V2 and DenseNet169, against central training, scored on the real DUNE CVN evaluation half),
# the weights across backends, the training benchmark, and whether training is reproducible there.
#
#   scripts/gpu_study.sh RESULTS_DIR [BUDGET_SECONDS] [STAGES]
#
# STAGES, any of "studies weights bench determinism" (default: all four, in this order of value).
# Run from the repository root on a machine with a GPU and Keras 3 on JAX (and PyTorch for the
# backend comparison). To compare with TensorFlow too, make its files on a CPU first and bring them:
#   .venv/bin/python scripts/weights_across_backends.py .gpu/weights --data runs/lartpc_dune_6240.h5 The two studies and the PyTorch comparison run side by side (one GPU holds
# them all; compiling is CPU work); the benchmark runs after them, alone on the GPU, so that nothing
# else moves its timings, then JAX's side of the comparison and the determinism check. Each stage
# gets what is left of the budget (default 540 s). A short lease still ends with every finished
# stage's figures and logs in RESULTS_DIR/results.tar.gz (rewritten every 20 s and after each stage;
# weights left out, they are large) and the log in RESULTS_DIR/log.txt.
set -u
out=${1:?usage: scripts/gpu_study.sh RESULTS_DIR [BUDGET_SECONDS] [STAGES]}
budget=${2:-540}
stages=" ${3:-studies weights bench determinism} "
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
began=$(date +%s)
exec > >(tee -a "$out/log.txt") 2>&1

export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Every learner's model is the same network: compile its steps once, then read them from this cache.
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/learnledger-jax-cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
events=runs/lartpc_dune_6240.h5
mkdir -p runs

save() {  # the figures so far, weights left out; written aside and renamed, so a reader never sees half
    tar czf "$out/.results.tar.gz.$BASHPID" --exclude='*.safetensors' --exclude='*.bin' --exclude='./run_*/store' -C "$work" . 2>/dev/null \
        && mv "$out/.results.tar.gz.$BASHPID" "$out/results.tar.gz"
}
left() { echo $((budget - ($(date +%s) - began))); }
stage() {  # stage NAME MAX_SECONDS COMMAND...: run it within what is left, its output in NAME.log
    local name=$1 most=$2; shift 2
    local limit; limit=$(left)
    (( limit > most )) && limit=$most
    if (( limit < 20 )); then echo "== $name: skipped, ${limit} s left of the budget"; last_rc=124; return; fi
    echo "== $name: started (at most ${limit} s; $(( $(date +%s) - began )) s in)"
    local t0; t0=$(date +%s)
    timeout "$limit" "$@" > "$work/$name.log" 2>&1; last_rc=$?
    echo "== $name: exit $last_rc after $(( $(date +%s) - t0 )) s; its last lines:"
    grep -v -e '^I0000' -e '^W0000' -e '^WARNING: All log' "$work/$name.log" | tail -n 12 | sed 's/^/    /'
    save
}
study() {  # study NETWORK: the contract on the embedded chain; the reference rules if that fails
    for ledger in chain reference; do
        stage "study_${1}_$ledger" 300 python3 scripts/lartpc_paper_study.py "examples/lartpc_dune_$1.toml" \
            --ledger "$ledger" --out "$work/run_$1" --json "$work/study_$1.json"
        (( last_rc == 0 || last_rc == 124 )) && break
    done
    rm -rf "$work/run_$1/store"
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import sys, jax, keras; print("python", sys.version.split()[0], "| jax", jax.__version__, jax.devices(), "| keras", keras.__version__)'
  python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
  echo "$(nproc) CPUs"; } > "$work/environment.txt" 2>&1
cat "$work/environment.txt"
if ! python3 -c 'import keras; keras.ops.convert_to_numpy(keras.ops.ones(2) * 2)' > /dev/null 2>&1; then
    echo "== Keras does not run on JAX here: every stage on PyTorch instead"
    export KERAS_BACKEND=torch
fi
(while sleep 20; do save; done) & saver=$!

stage events 90 python3 -m learnledger.cli.main data lartpc --geometry dune --events 6240 --seed 5 \
    --workers "$(nproc)" --out "$events"
if (( last_rc != 0 )); then  # the same file without the command line's packages
    stage events_plain 90 python3 -c 'import sys, os
from learnledger.data.lartpc.config import SimConfig
from learnledger.data.lartpc.generator import generate
from learnledger.data.lartpc.h5io import write_h5
config = SimConfig.for_geometry("dune")
write_h5(sys.argv[1], generate(6240, 5, config, workers=os.cpu_count()), config, 5)' "$events"
fi
mkdir -p "$work/weights"
cp -r .gpu/weights/. "$work/weights/" 2>/dev/null  # TensorFlow's files, made on a CPU beforehand
wants() { [[ $stages == *" $1 "* ]]; }
networks=lartpc_cnn,resnet50v2,densenet169
(
    export XLA_PYTHON_CLIENT_MEM_FRACTION=0.3  # two JAX processes and PyTorch share the GPU
    if wants studies; then study resnet & study densenet & fi
    if wants weights; then
        KERAS_BACKEND=torch stage weights_torch 150 python3 scripts/weights_across_backends.py "$work/weights" \
            --data "$events" --architectures $networks &
    fi
    wait
)
wants bench && stage bench_train 240 python3 scripts/bench_train.py --data "$events" --json "$work/bench_train.json"
wants weights && stage weights_jax 150 python3 scripts/weights_across_backends.py "$work/weights" --data "$events" \
    --architectures $networks
# Is a proposal reproducible on the GPU when XLA is told to choose deterministic kernels?
wants determinism && XLA_FLAGS=--xla_gpu_deterministic_ops=true stage bench_deterministic 90 \
    python3 scripts/bench_train.py --architectures lartpc_cnn,resnet50v2 --data "$events" \
    --json "$work/bench_deterministic.json"
kill "$saver" 2>/dev/null
save
echo "== done in $(( $(date +%s) - began )) s"
