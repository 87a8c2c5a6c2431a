#!/usr/bin/env bash
# GPU check of sleep.method: cuda-checkpoint (issue 13). For a person with an NVIDIA GPU (driver
# 550+, cuda-checkpoint on PATH or in CUDA_CHECKPOINT); NOT run in CI.
# Starts a real CUDA llama-server (-ngl 99) under siesta, sleeps and wakes it through the admin API
# with the real binary, and prints the GPU memory freed (nvidia-smi) and the wake time.
#   LLAMA_SERVER=/path/llama-server MODEL=/path/model.gguf scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_SERVER:?set LLAMA_SERVER to a CUDA build of llama-server}"
: "${MODEL:?set MODEL to a .gguf file}"
BIN="${CUDA_CHECKPOINT:-$(command -v cuda-checkpoint || true)}"
[ -n "$BIN" ] || { echo "cuda-checkpoint not found: put it on PATH or set CUDA_CHECKPOINT" >&2; exit 1; }
command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found" >&2; exit 1; }
PORT="${PORT:-18080}"
DIR="$(mktemp -d)"
cat >"$DIR/config.yaml" <<YAML
cudaCheckpoint: { path: $BIN }
healthCheckTimeout: 300
models:
  gpu:
    backend: llama-server
    cmd: $LLAMA_SERVER --port \${PORT} -m $MODEL -ngl 99
    sleep: { method: cuda-checkpoint }
YAML
used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | awk '{s+=$1} END {print s}'; }
now_ms() { date +%s%3N; }
npx siesta check -config "$DIR/config.yaml"
npx siesta -config "$DIR/config.yaml" -listen "127.0.0.1:$PORT" >"$DIR/siesta.log" 2>&1 &
SIESTA=$!
trap 'kill "$SIESTA" 2>/dev/null; wait "$SIESTA" 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
BASE="http://127.0.0.1:$PORT"
curl -fsS -X POST "$BASE/api/models/gpu/load" >/dev/null
curl -fsS "$BASE/v1/chat/completions" -H 'content-type: application/json' -d '{"model":"gpu","messages":[{"role":"user","content":"hi"}],"max_tokens":4}' >/dev/null
BEFORE=$(used)
T0=$(now_ms); curl -fsS -X POST "$BASE/api/models/gpu/sleep" >/dev/null; T1=$(now_ms)
ASLEEP=$(used)
T2=$(now_ms); curl -fsS -X POST "$BASE/api/models/gpu/wake" >/dev/null; T3=$(now_ms)
curl -fsS "$BASE/v1/chat/completions" -H 'content-type: application/json' -d '{"model":"gpu","messages":[{"role":"user","content":"hi"}],"max_tokens":4}' >/dev/null
echo "GPU memory used: awake ${BEFORE} MiB, checkpointed ${ASLEEP} MiB: freed $((BEFORE - ASLEEP)) MiB"
echo "sleep took $((T1 - T0)) ms, wake took $((T3 - T2)) ms; a request after the wake was served"
