#!/usr/bin/env bash
# Runs every test of SIG VoIP on a fresh machine: formatting, lints, the Rust test suite,
# the differential test against python-stdnum, and the Python suite.
# It installs what it needs itself (a virtual environment under .venv from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A fresh clone gains nothing from incremental caches; they would double the target directory.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Crate features the test build needs (the vendor sandboxes); the Python extension-module
# feature stays off so test binaries link.
FEATURES="sig-omie/sandbox,sig-next/sandbox,sig-docsales/sandbox,sig-fiscal/sandbox,sig-examples/failpoints"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --features "$FEATURES" -- -D warnings

step "cargo test"
cargo test --workspace --features "$FEATURES"

step "python virtual environment (.venv)"
PY="${SIG_PYTHON_BOOTSTRAP:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

step "differential test against python-stdnum"
# The same package selection and features as the test build, so nothing is compiled twice.
SIG_PYTHON="$PWD/.venv/bin/python" cargo test --workspace --features "$FEATURES" \
  --test differential_stdnum -- --ignored --nocapture

# The Python suite reads a store a real `sig demo` run writes; `cargo test` built the binary
# (the examples' integration tests run it).
export SIG_BIN="$PWD/target/debug/sig"
[ -x "$SIG_BIN" ] || { echo "cargo test did not build $SIG_BIN" >&2; exit 1; }

step "python bindings: build sig_voip into .venv, mypy.stubtest, mypy --strict, pytest"
VIRTUAL_ENV="$PWD/.venv" CARGO_TARGET_DIR="$PWD/target" \
  .venv/bin/maturin develop --release --quiet -m bindings/python/Cargo.toml
.venv/bin/python -m mypy.stubtest sig_voip._native
.venv/bin/python -m mypy --config-file bindings/python/pyproject.toml \
  bindings/python/python/sig_voip bindings/python/tests bindings/python/bench
pytest_rc=0
.venv/bin/python -m pytest -q bindings/python/tests || pytest_rc=$?
if [ "$pytest_rc" -eq 5 ]; then
  echo "pytest collected no tests in bindings/python/tests" >&2
fi
[ "$pytest_rc" -eq 0 ] || exit 1

step "all tests passed"
