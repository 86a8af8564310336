#!/usr/bin/env bash
# make bench: the reference workload (../shared/bench/jbench.py) against
# cellgate and against Jupyter Server 1.23, one after the other on this
# machine, plus the floor (ipykernel alone through jupyter_client, no server);
# then a side-by-side table of medians, the ratio cellgate/reference, and
# cellgate's execute round trip minus the floor.
#
# Each server is started by tests/integration/py/serve.py exactly as the
# integration tests start it (free loopback port, random token, temporary
# workspace and state), and stopped after its run.
#
# Environment:
#   BENCH_QUICK=1       jbench --quick, a shorter floor run, no UTF-8-off many-clients run
#   BENCH_SERVERS       which halves to run, in order (default "cellgate reference")
#   BENCH_NO_FLOOR=1    skip the floor
#   BENCH_NO_SANDBOX=1  skip the sandbox start bench (scripts/bench_sandbox.py)
#   BENCH_SANDBOX_N     kernel starts per server in it (default 10)
#   BENCH_KERNELS       native kernels to run through cellgate (default "pari gap")
#   BENCH_RECORD=0      skip execution records on/off (scripts/bench_record.py)
#   BENCH_OUT           where the figures go (default build/bench)
#   BENCH_TIMEOUT       seconds per server run (default 1200; 400 with BENCH_QUICK)
#   CELLGATE_BIN        the cellgate binary (default bin/cellgate)
#   JBENCH              the workload (default ../shared/bench/jbench.py)
#   BENCH_ONLY=contents only jbench's contents step (scripts/bench_contents.py:
#                       PUT then GET of a 200-cell, 2 MB notebook, 20 times),
#                       cellgate and the reference alternately BENCH_PAIRS
#                       times (default 3), so a change in the machine's load
#                       hits both; medians and ratios in contents-summary.txt
#
# Output: $BENCH_OUT/{cellgate,reference,floor}.json (the tools' own JSON),
# their stdout in *.out, and the table in summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
OUT=${BENCH_OUT:-build/bench}
JBENCH=${JBENCH:-../shared/bench/jbench.py}
SERVERS=${BENCH_SERVERS:-cellgate reference}
quick=()
timeout_s=${BENCH_TIMEOUT:-1200}
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 ]]; then
  quick=(--quick)
  timeout_s=${BENCH_TIMEOUT:-400}
fi
export CELLGATE_BIN=${CELLGATE_BIN:-bin/cellgate}

if [[ ! -f $JBENCH ]]; then
  echo "bench: $JBENCH not found (set JBENCH)" >&2
  exit 1
fi
mkdir -p "$OUT"
# figures from an earlier run must not end up in this run's table
rm -f "$OUT"/{cellgate,reference,floor,many-cellgate,many-reference,kernel-pari,kernel-gap,sandbox,record}.{json,out} "$OUT/summary.txt"
failed=()

echo "== bench: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), ${quick[*]:-full run}; figures in $OUT/"

if [[ ${BENCH_ONLY:-} == contents ]]; then
  rm -f "$OUT"/contents-*.json "$OUT/contents-summary.txt"
  for i in $(seq 1 "${BENCH_PAIRS:-3}"); do
    for s in $SERVERS; do
      args=()
      [[ $s == reference ]] && args=(--reference)
      echo "== bench: contents, run $i, $s"
      timeout --kill-after=20 600 "$PY" tests/integration/py/serve.py --quiet "${args[@]}" --timeout 540 -- \
        "$PY" scripts/bench_contents.py --rounds 1 --json-out "$OUT/contents-$s-$i.json" >/dev/null ||
        failed+=("contents $s run $i")
    done
  done
  "$PY" - "$OUT" "$SERVERS" <<'EOF' | tee "$OUT/contents-summary.txt"
import glob, json, os, statistics, sys

out, servers = sys.argv[1], sys.argv[2].split()
med = {}
for s in servers:
    runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, f"contents-{s}-*.json")))]
    if runs:
        med[s] = {k: statistics.median(r[k + "_median_ms"] for r in runs) for k in ("put", "get")}
print(f"{'contents (median of run medians)':34} " + " ".join(f"{s:>12}" for s in servers) + f" {'cg/ref':>8}")
for k, label in (("put", "PUT 2 MB notebook"), ("get", "GET 2 MB notebook")):
    cells = [f"{med[s][k]:.1f} ms" if s in med else "-" for s in servers]
    ratio = f"{med['cellgate'][k] / med['reference'][k]:.2f}" if {"cellgate", "reference"} <= set(med) else "-"
    print(f"{label:34} " + " ".join(f"{c:>12}" for c in cells) + f" {ratio:>8}")
EOF
  if ((${#failed[@]})); then
    echo "bench: FAILED: ${failed[*]}" >&2
    exit 1
  fi
  exit 0
fi

for s in $SERVERS; do
  case $s in
    cellgate)
      args=()
      if [[ ! -x $CELLGATE_BIN ]]; then
        echo "bench: $CELLGATE_BIN is not built; skipping cellgate (make first)" >&2
        failed+=("cellgate (not built)")
        continue
      fi ;;
    reference) args=(--reference) ;;
    *) echo "bench: unknown server '$s' in BENCH_SERVERS" >&2; exit 2 ;;
  esac
  echo "== bench: jbench against $s"
  t0=$SECONDS
  # the inner shell sees CELLGATE_URL, CELLGATE_TOKEN and CELLGATE_PID from serve.py
  # shellcheck disable=SC2016
  if timeout --kill-after=20 $((timeout_s + 60)) \
       "$PY" tests/integration/py/serve.py --quiet "${args[@]}" --timeout "$timeout_s" -- \
       bash -c 'exec "$0" "$1" --url "$CELLGATE_URL" --token "$CELLGATE_TOKEN" \
                  --server-pid "$CELLGATE_PID" "${@:2}"' \
       "$PY" "$JBENCH" --json-out "$OUT/$s.json" "${quick[@]}" >"$OUT/$s.out"; then
    echo "== bench: $s done in $((SECONDS - t0)) s"
  else
    rc=$?
    echo "bench: jbench against $s failed (exit $rc); its output is in $OUT/$s.out" >&2
    tail -5 "$OUT/$s.out" >&2 || true
    failed+=("$s (exit $rc)")
  fi
done

# The many-clients workload again, with the client's pure-Python UTF-8 check
# off (see scripts/bench_many_clients.py for why).
if [[ -z "${BENCH_QUICK:-}" || "${BENCH_QUICK}" == 0 ]]; then
  for s in $SERVERS; do
    args=()
    [[ $s == reference ]] && args=(--reference)
    echo "== bench: many clients, UTF-8 check off, against $s"
    # shellcheck disable=SC2016
    if ! timeout --kill-after=20 360 \
         "$PY" tests/integration/py/serve.py --quiet "${args[@]}" --timeout 300 -- \
         bash -c 'exec "$0" "$1" --url "$CELLGATE_URL" --token "$CELLGATE_TOKEN" "${@:2}"' \
         "$PY" scripts/bench_many_clients.py --json-out "$OUT/many-$s.json" >"$OUT/many-$s.out" 2>&1; then
      echo "bench: many clients against $s failed; see $OUT/many-$s.out" >&2
      failed+=("many clients $s")
    fi
  done
fi

# cellgate's native kernels through cellgate, the same workload (--quick):
# their trivial cell beside ipykernel's. Their kernelspecs come from the
# build tree through JUPYTER_PATH.
for k in ${BENCH_KERNELS-pari gap}; do
  [[ $SERVERS == *cellgate* && -f build/share/jupyter/kernels/$k/kernel.json ]] || continue
  echo "== bench: jbench --kernel $k against cellgate"
  # shellcheck disable=SC2016
  if ! JUPYTER_PATH=$PWD/build/share/jupyter timeout --kill-after=20 400 \
       "$PY" tests/integration/py/serve.py --quiet --timeout 360 -- \
       bash -c 'exec "$0" "$1" --url "$CELLGATE_URL" --token "$CELLGATE_TOKEN" \
                  --server-pid "$CELLGATE_PID" "${@:2}"' \
       "$PY" "$JBENCH" --kernel "$k" --quick --json-out "$OUT/kernel-$k.json" >"$OUT/kernel-$k.out" 2>&1; then
    echo "bench: jbench --kernel $k failed; see $OUT/kernel-$k.out" >&2
    failed+=("kernel $k")
  fi
done

# The sandbox's hardening (seccomp, cgroups, watcher, egress relay) against
# the plain bubblewrap sandbox and Jupyter Server's unsandboxed start.
if [[ -z "${BENCH_NO_SANDBOX:-}" || "${BENCH_NO_SANDBOX}" == 0 ]] && [[ -x $CELLGATE_BIN ]]; then
  echo "== bench: kernel start, hardened vs plain sandbox vs reference"
  if ! timeout 900 "$PY" scripts/bench_sandbox.py --n "${BENCH_SANDBOX_N:-10}" \
       --json-out "$OUT/sandbox.json" >"$OUT/sandbox.out" 2>&1; then
    echo "bench: bench_sandbox.py failed; see $OUT/sandbox.out" >&2
    failed+=("sandbox start")
  fi
  cat "$OUT/sandbox.out"
fi

# What execution records cost: the round trip with recording on and off.
if [[ $SERVERS == *cellgate* && "${BENCH_RECORD:-1}" != 0 ]]; then
  echo "== bench: execution records on/off"
  if ! timeout --kill-after=20 900 "$PY" scripts/bench_record.py "${quick[@]}" \
       --json-out "$OUT/record.json" >"$OUT/record.out" 2>&1; then
    echo "bench: records on/off failed; see $OUT/record.out" >&2
    failed+=("records on/off")
  fi
fi

if [[ -z "${BENCH_NO_FLOOR:-}" || "${BENCH_NO_FLOOR}" == 0 ]]; then
  echo "== bench: floor (ipykernel through jupyter_client, no server)"
  if timeout --kill-after=20 300 "$PY" scripts/bench_floor.py "${quick[@]}" \
       --json-out "$OUT/floor.json" >"$OUT/floor.out" 2>&1; then
    :
  else
    rc=$?
    echo "bench: floor failed (exit $rc); see $OUT/floor.out" >&2
    failed+=("floor (exit $rc)")
  fi
fi

"$PY" - "$OUT" "$SERVERS" <<'EOF' | tee "$OUT/summary.txt"
import json, os, sys

out, wanted = sys.argv[1], sys.argv[2].split()


def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


cg, ref, floor = load("cellgate"), load("reference"), load("floor")


def get(doc, path):
    v = doc and doc.get("results")
    for k in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(k)
    return v if isinstance(v, (int, float)) else None


lines = None
for d in (cg, ref):
    lines = lines or get(d, "stream.lines")
rows = [
    ("kernel start", "kernel_start_s.median", "ms"),
    ("execute -> reply", "execute_reply_s.median", "ms"),
    ("execute -> reply p99", "execute_reply_s.p99", "ms"),
    ("execute -> idle", "execute_idle_s.median", "ms"),
    (f"stream {lines or '?'} lines -> idle", "stream.idle_s.median", "ms"),
    ("stream bytes per run", "stream.bytes_per_run", "KiB"),
    ("many clients: reply", "many_clients.reply_s.median", "ms"),
    ("many clients: total", "many_clients.total_s", "ms"),
    ("contents PUT 2 MB notebook", "contents.put_s.median", "ms"),
    ("contents GET 2 MB notebook", "contents.get_s.median", "ms"),
    ("interrupt -> reply", "interrupt_s.to_reply_s", "ms"),
    ("restart -> answers", "restart_s.median", "ms"),
    ("server RSS idle", "server_rss_idle_kib", "MiB"),
    ("server+children RSS idle", "server_tree_rss_idle_kib", "MiB"),
    ("server RSS peak", "server_rss_peak_kib", "MiB"),
    ("server RSS after", "server_rss_after_kib", "MiB"),
]


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v * 1e3:.1f} ms"
    if unit == "MiB":
        return f"{v / 1024:.1f} MiB"
    if unit == "KiB":
        return f"{v / 1024:.0f} KiB"
    return str(v)


print()
print(f"{'metric (medians)':30} {'cellgate':>12} {'reference':>12} {'cg/ref':>8}")
print("-" * 65)
for label, path, unit in rows:
    a, b = get(cg, path), get(ref, path)
    ratio = f"{a / b:.2f}" if a is not None and b else "-"
    print(f"{label:30} {fmt(a, unit):>12} {fmt(b, unit):>12} {ratio:>8}")
print("-" * 65)
f_reply = get(floor, "trivial.execute_reply_s.median")
f_idle = get(floor, "trivial.execute_idle_s.median")
if f_reply is not None:
    print(f"floor, ipykernel alone ({floor.get('transport')}, '1+1'): reply {fmt(f_reply, 'ms')}, "
          f"idle {fmt(f_idle, 'ms')}; 'pass': reply {fmt(get(floor, 'pass.execute_reply_s.median'), 'ms')}")
    for name, d in (("cellgate", cg), ("reference", ref)):
        r, i = get(d, "execute_reply_s.median"), get(d, "execute_idle_s.median")
        if r is not None:
            dr, di = (r - f_reply) * 1e3, (i - f_idle) * 1e3
            note = ("  (below the floor: within noise and the floor client's own overhead)"
                    if dr < 0 else "")
            print(f"{name} over the floor: reply {dr:+.1f} ms, idle {di:+.1f} ms{note}")
for k in ("pari", "gap"):
    d = load("kernel-" + k)
    if d:
        r, py = get(d, "execute_reply_s.median"), get(cg, "execute_reply_s.median")
        print(f"native {k} through cellgate (--quick): kernel start {fmt(get(d, 'kernel_start_s.median'), 'ms')}, "
              f"execute -> reply {fmt(r, 'ms')}" + (f" (ipykernel {fmt(py, 'ms')})" if py else ""))
rec = load("record")
if rec:
    t, o = rec["results"]["trivial.reply"], rec["results"]["trivial.idle"]
    r = rec.get("recorder", {})
    n = max(1, r.get("recorded", 0) + r.get("queued", 0) + r.get("in_flight", 0))
    print(f"execution records on/off ('1+1'): reply {t['on']['median'] * 1e3:.3f} / {t['off']['median'] * 1e3:.3f} ms "
          f"({t['difference_s'] * 1e3:+.3f} ms), idle {o['difference_s'] * 1e3:+.3f} ms; "
          f"in the relay's path {r.get('relay_ns', 0) / 1e3 / n:.1f} us per execution")
many = {n: load("many-" + n) for n in ("cellgate", "reference")}
if all(many.values()):
    a, b = many["cellgate"]["total_s"], many["reference"]["total_s"]
    print(f"many clients, client UTF-8 check off: cellgate {a * 1e3:.0f} ms, reference "
          f"{b * 1e3:.0f} ms, cg/ref {a / b:.2f} (throughput x{b / a:.1f}); client CPU "
          f"{many['cellgate']['client_cpu_s']:.1f} s / {many['reference']['client_cpu_s']:.1f} s")
for name, d in (("cellgate", cg), ("reference", ref)):
    if d is None and name in wanted:
        print(f"{name}: no figures (failed)")
    for n in (d or {}).get("notes", []):
        print(f"{name} note: {n}")
EOF

if ((${#failed[@]})); then
  echo "== bench: FAILED: ${failed[*]}" >&2
  exit 1
fi
