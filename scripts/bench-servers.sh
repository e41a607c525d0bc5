#!/usr/bin/env bash
# Bench throughput against 1, 2, ... OpenAI-compatible servers on loopback (llama-cpp-python's,
# serving the embedded GGUF, one thread each), and a run that keeps going when one server is
# killed mid-bench. Usage: scripts/bench-servers.sh [COUNTS...] (default: 1 2 4).
# Needs `just test-peers` to have installed the server (~/.cache/ladder/peers) and `just build`.
# Prints a table of runs per minute; each bench's folder is under runs/servers-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then counts=("$@"); else counts=(1 2 4); fi
venv="$HOME/.cache/ladder/peers"
ladder="${CARGO_TARGET_DIR:-$HOME/.cache/ladder/target}/debug/ladder"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -x "$venv/bin/python" ] || { echo "run \`just test-peers\` once to install llama-cpp-python's server" >&2; exit 1; }
[ -x "$ladder" ] || { echo "run \`just build\` first" >&2; exit 1; }
root="runs/servers-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$root"
pids=()
stop_all() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap stop_all EXIT
# start N: start N servers; sets URLS (comma-separated) and pids.
start() {
    local urls=()
    for _ in $(seq 1 "$1"); do
        local port
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$venv/bin/python" -m llama_cpp.server --model "$model" --model_alias smollm2 \
            --host 127.0.0.1 --port "$port" --n_ctx 4096 --n_threads 1 >"$root/server-$port.log" 2>&1 &
        pids+=($!)
        urls+=("http://127.0.0.1:$port/v1")
    done
    for u in "${urls[@]}"; do
        for _ in $(seq 1 240); do curl -sf "$u/models" >/dev/null 2>&1 && break; sleep 0.5; done
    done
    URLS=$(IFS=,; echo "${urls[*]}")
}
plan=(--strategies direct,bootstrap --suites facts,helpdesk --tasks smoke --data "$root/data")
echo "| servers | runs | wall s | runs per minute |"
echo "|---|---|---|---|"
for n in "${counts[@]}"; do
    start "$n"
    t0=$(date +%s.%N)
    "$ladder" bench "${plan[@]}" --model "llama-cpp-python:smollm2@$URLS" --concurrency "$n" \
        --out "$root/n$n" >"$root/n$n.log" 2>&1
    t1=$(date +%s.%N)
    runs=$(wc -l < "$root/n$n/results.jsonl")
    python3 -c "w=$t1-$t0; print(f'| $n | $runs | {w:.0f} | {$runs*60/w:.2f} |')"
    stop_all
done
# Failover: two servers, the second killed once the first runs have finished.
start 2
"$ladder" bench "${plan[@]}" --model "llama-cpp-python:smollm2@$URLS" --concurrency 2 \
    --out "$root/killed" >"$root/killed.log" 2>&1 &
bench=$!
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
while [ "$(lines "$root/killed/results.jsonl")" -lt 2 ]; do sleep 1; done
kill "${pids[1]}"
wait "$bench"
echo
echo "killed one of two servers mid-bench: $(wc -l < "$root/killed/results.jsonl") runs recorded, $(grep -c '"error":"' "$root/killed/results.jsonl" || true) with an error; the manifest's incidents:"
python3 -c "import json; print('\n'.join(json.load(open('$root/killed/manifest.json')).get('incidents', [])) or '(none)')"
echo "folders: $root"
