#!/usr/bin/env bash
# Integration tests: drive the real bin/cellgate through its real interfaces.
# Builds nothing (`make integration` builds first).
#
#   1. pytest (Debian's /usr/bin/python3): tests/integration/py — REST API,
#      WebSocket protocols, bad input, the sandbox. One server for the run.
#   2. tests/integration/node (installed by scripts/install-deps.sh):
#      one more server, and `node test.mjs` against it twice, with
#      WS_PROTOCOL=v1 and WS_PROTOCOL=legacy (CELLGATE_URL, CELLGATE_TOKEN;
#      STRICT=1 against cellgate).
#
# Environment:
#   CELLGATE_BIN          the server binary (default bin/cellgate)
#   CELLGATE_REFERENCE=1  run everything against Jupyter Server 1.23 instead
#   PYTEST_ARGS           extra pytest arguments (e.g. "-k sandbox -x")
#   PYTEST_TIMEOUT        seconds for the whole pytest run (900)
#   NODE_TIMEOUT          seconds per node run (300)
#   NODE_TEST_DIR         where test.mjs / run.mjs is (tests/integration/node)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
PYTEST_TIMEOUT=${PYTEST_TIMEOUT:-900}
NODE_TIMEOUT=${NODE_TIMEOUT:-300}
export CELLGATE_BIN=${CELLGATE_BIN:-bin/cellgate}

serve_args=()
if [[ "${CELLGATE_REFERENCE:-0}" != 0 && -n "${CELLGATE_REFERENCE:-}" ]]; then
  target="Jupyter Server (reference)"
  serve_args=(--reference)
else
  target="cellgate ($CELLGATE_BIN)"
  if [[ ! -x "$CELLGATE_BIN" ]]; then
    echo "integration: $CELLGATE_BIN is not built; run make first" >&2
    exit 1
  fi
fi

failed=()

echo "== integration: pytest tests/integration/py against $target"
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
if timeout --kill-after=15 "$PYTEST_TIMEOUT" \
     "$PY" -m pytest -q tests/integration/py ${PYTEST_ARGS:-}; then
  echo "== integration: pytest passed"
else
  rc=$?
  [[ $rc == 124 ]] && echo "integration: pytest timed out after ${PYTEST_TIMEOUT}s" >&2
  failed+=("pytest (exit $rc)")
fi

node_dir=${NODE_TEST_DIR:-tests/integration/node}
node_test=""
for f in test.mjs run.mjs; do
  [[ -f $node_dir/$f ]] && { node_test=$node_dir/$f; break; }
done
if [[ -d $node_dir/node_modules && -n $node_test ]]; then
  echo "== integration: node $node_test against $target"
  # one server for both runs, started and stopped exactly as the pytest fixture does
  export NODE_TEST=$node_test NODE_TIMEOUT
  # STRICT=1: also fail where Jupyter Server itself falls short (see its README)
  [[ ${#serve_args[@]} == 0 ]] && export STRICT=${STRICT:-1}
  # shellcheck disable=SC2016  # expanded by the inner shell
  # python3 in both protocols; cellgate's native kernels (when built) in v1
  runs="python3:v1 python3:legacy"
  native=()
  if [[ ${#serve_args[@]} == 0 ]]; then
    for k in pari gap; do
      if [[ -f build/share/jupyter/kernels/$k/kernel.json ]]; then
        runs+=" $k:v1"
        native+=(--native "$k")
      fi
    done
  fi
  export NODE_RUNS=$runs
  both='rc=0
    for run in $NODE_RUNS; do
      k=${run%%:*} p=${run#*:}
      echo "== integration: node KERNEL=$k WS_PROTOCOL=$p"
      if KERNEL=$k WS_PROTOCOL=$p timeout --kill-after=10 "$NODE_TIMEOUT" node "$NODE_TEST"; then
        echo "== integration: node ($k, $p) passed"
      else
        r=$?; rc=1
        [[ $r == 124 ]] && echo "integration: node ($k, $p) timed out after ${NODE_TIMEOUT}s" >&2
        echo "== integration: node ($k, $p) FAILED (exit $r)" >&2
      fi
    done
    exit $rc'
  if timeout --kill-after=15 $((4 * NODE_TIMEOUT + 60)) \
       "$PY" tests/integration/py/serve.py "${serve_args[@]}" "${native[@]}" \
         --timeout $((4 * NODE_TIMEOUT + 30)) -- bash -c "$both"; then
    echo "== integration: node passed"
  else
    failed+=("node $node_test (exit $?)")
  fi
else
  # scripts/install-deps.sh runs npm ci there: a missing client is a failure
  echo "== integration: node test missing ($node_dir needs node_modules and run.mjs)" >&2
  failed+=("node (not installed)")
fi

if ((${#failed[@]})); then
  echo "== integration: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "== integration: all passed"
