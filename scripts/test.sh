#!/usr/bin/env bash
# The whole suite in two halves that run at the same time (`make test`; arguments go to both):
#   timed  the tests that need the footage server, the model or Chromium (markers rtsp, model, browser):
#          real streams, rates and restart bounds, one test after another, at the normal priority;
#   rest   everything else (API, stores, fuzzing, the command line), spread over two processes at nice 10:
#          it runs on the CPU the timed half leaves idle and gets a tenth of a core where both want it,
#          so it barely slows what that half times, and is never starved (its own waits are bounded too).
# Each half prints its own summary; the rest's whole output is shown when it fails, and kept in var/.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
mkdir -p var
REST_LOG=var/test-rest.log
TIMED='rtsp or browser or model'

# pytest answers 5 when a selection holds no tests (PYTEST_ARGS naming one file of one half): not a failure
half() { "$PY" -m pytest "$@"; local rc=$?; [ "$rc" -eq 5 ] && rc=0; return "$rc"; }

echo "[test] the rest (not $TIMED) at nice 10 on 2 processes, output in $REST_LOG"
nice -n 10 "$PY" -m pytest -n 2 -m "not ($TIMED)" "$@" >"$REST_LOG" 2>&1 &
rest_pid=$!
trap 'kill -- "$rest_pid" 2>/dev/null' EXIT INT TERM

echo "[test] the timed half ($TIMED), one test at a time"
half -m "$TIMED" "$@"
timed_rc=$?

wait "$rest_pid"
rest_rc=$?
trap - EXIT INT TERM
[ "$rest_rc" -eq 5 ] && rest_rc=0
if [ "$rest_rc" -ne 0 ]; then
    echo "[test] the rest FAILED (exit $rest_rc); its output:"
    cat "$REST_LOG"
else
    echo "[test] the rest: $(grep -E '^[=]+ .*(passed|failed|error).* in ' "$REST_LOG" | tail -1 | tr -d '=')"
fi
echo "[test] timed half exit $timed_rc, the rest exit $rest_rc"
[ "$timed_rc" -eq 0 ] && [ "$rest_rc" -eq 0 ]
