#!/usr/bin/env bash
# The one test command (README, and .ci/run): installs what the tests need, then lint, types, tests.
# Each long step says what it does before it starts; the last lines say how many tests ran and how
# many real-data tests were skipped (without ../shared/data, most of them).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "==> $* ($((SECONDS))s)"; }

# Independent readers the tests check outputs with (exiftool, ffprobe), and chromium for the review page.
need=()
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v strace >/dev/null || need+=(strace) # sees native code open sockets (tests/test_network.py)
command -v espeak-ng >/dev/null || need+=(espeak-ng) # a voice for the speech tests
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    step "apt-get install ${need[*]} (a minute or two, once)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: install ${need[*]} for the metadata tests (they skip without them)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  step "python3 -m venv .venv"
  python3 -m venv .venv
fi
step "pip install -e '.[dev,ray]' into .venv (first time a few minutes; log: .venv/pip.log)"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,ray]' >.venv/pip.log 2>&1; then
  cat .venv/pip.log >&2
  exit 1
fi

step "ruff check + format --check"
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
step "mypy"
.venv/bin/mypy
if [ -d ../shared/data ]; then
  step "pytest (real data in ../shared/data: the whole suite)"
else
  step "pytest (no ../shared/data: the shipped examples and synthetic tests; real-data tests skip, counted at the end)"
fi
.venv/bin/pytest -q "$@"
