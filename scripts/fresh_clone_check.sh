#!/usr/bin/env bash
# What a newcomer gets: clone this repository's HEAD (committed work only) into an empty folder with
# nothing beside it (no ../shared), then run the README's two commands exactly as written there
# (read from README.md between the <!-- first-command --> and <!-- test-command --> markers, so the
# two cannot drift), timing each. Fails unless both exit 0, the example outputs exist, the face in
# the example photo is gone (audit clear) and the test run's last lines count the skipped tests.
# Usage: bash scripts/fresh_clone_check.sh   (KEEP=1 keeps the temporary folder for a look)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/unseen-fresh.XXXXXX")"
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
clone="$work/unseen"

fail() {
  echo "fresh clone check FAILED: $*" >&2
  exit 1
}

echo "==> git clone of $(git -C "$root" rev-parse --short HEAD) into $clone (nothing beside it)"
git clone -q "$root" "$clone"
git -C "$clone" checkout -q --detach "$(git -C "$root" rev-parse HEAD)"
[ ! -e "$work/shared" ] || fail "$work/shared exists"

# The command between <!-- NAME --> and <!-- /NAME --> in the clone's README, fences dropped.
command_of() {
  awk -v m="$1" '$0 == "<!-- " m " -->" {on = 1; next} $0 == "<!-- /" m " -->" {on = 0} on && !/^```/' \
    "$clone/README.md"
}

# Run one README command in the clone as a newcomer would (no PYTHONPATH, no active venv, an empty
# unseen cache); its output goes to the terminal and to $work/NAME.log. Sets rc and took.
run_readme() {
  local name="$1" cmd
  cmd="$(command_of "$name")"
  [ -n "$cmd" ] && [ "$(printf '%s\n' "$cmd" | wc -l)" = 1 ] || fail "no single command between <!-- $name --> markers"
  echo "==> $name, as the README has it: $cmd"
  local start=$SECONDS
  set +e
  (cd "$clone" && env -u PYTHONPATH -u VIRTUAL_ENV UNSEEN_CACHE_DIR="$work/cache" bash -c "$cmd") 2>&1 |
    tee "$work/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  took=$((SECONDS - start))
}

run_readme first-command
first_rc=$rc first_s=$took
[ "$first_rc" = 0 ] || fail "the first command exited $first_rc"
for f in astronaut.jpg photographer.jpg signing.mp4; do
  [ -s "$clone/out/$f" ] || fail "out/$f was not written"
done
grep -q "^outputs in $clone/out" "$work/first-command.log" || fail "the first command did not say where the outputs are"
(cd "$clone" && .venv/bin/python - <<'EOF') || fail "the example outputs are not anonymised"
import av
import unseen

report = unseen.audit("examples/astronaut.jpg", "out/astronaut.jpg")
assert report.clear, report.summary()
with av.open("out/signing.mp4") as c:
    assert sum(1 for _ in c.decode(video=0)) == 60, "the clip lost frames"
print("example outputs: the face in astronaut.jpg is gone (audit clear), signing.mp4 has its 60 frames")
EOF

run_readme test-command
test_rc=$rc test_s=$took
[ "$test_rc" = 0 ] || fail "the test command exited $test_rc"
tail -n 4 "$work/test-command.log" | grep -q "tests ran" || fail "the test run's last lines do not say how many tests ran"
tail -n 4 "$work/test-command.log" | grep -q "real-data tests SKIPPED" ||
  fail "without ../shared/data the last lines must count the real-data tests skipped"

echo "fresh clone check passed: first command ${first_s}s (exit $first_rc), test command ${test_s}s (exit $test_rc)"
