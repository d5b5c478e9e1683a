#!/usr/bin/env bash
# The project's test command (README, between the test-command markers; .ci/run runs it):
# create .venv with llama.cpp built offline and portable, install vidsum with its test extras,
# then run pytest. Extra arguments go to pytest (`bash scripts/test.sh -m "not slow"`).
# --dry-run prints the commands instead of running them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Offline (no prebuilt web UI) and portable (GGML_NATIVE=OFF: a -march=native build uses AMX
# instructions that some VMs trap); two build jobs keep a small machine responsive. See the README's Tests section.
CMAKE_ARGS="-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
LLAMA_CPP_BUILD_JOBS=2

run=()
if [ "${1:-}" = "--dry-run" ]; then
  run=(echo)
  shift
fi

"${run[@]}" python3 -m venv .venv
"${run[@]}" env CMAKE_ARGS="$CMAKE_ARGS" LLAMA_CPP_BUILD_JOBS="$LLAMA_CPP_BUILD_JOBS" \
  .venv/bin/pip install -e '.[test,default-model,server-test]'
"${run[@]}" .venv/bin/python -m pytest -q --durations=15 "$@"
