#!/usr/bin/python3
"""The floor under every server's execute round trip: ipykernel alone.

Starts a python3 kernel with jupyter_client's KernelManager (no server, no
sandbox, no WebSocket) and times trivial executes with the blocking client:
send execute_request -> execute_reply on shell, and -> status idle on iopub,
exactly what jbench.py's execute_rtt measures through a server. Whatever a
server adds on top of these figures is the server's cost.

    /usr/bin/python3 scripts/bench_floor.py [--n 200] [--quick] [--transport tcp|ipc] [--json-out FILE]

Measures both "1+1" (jbench's trivial cell, what bench.sh subtracts) and "pass".
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from jupyter_client import KernelManager


def stats(xs):
    xs = sorted(xs)
    if not xs:
        return None
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    return {"n": len(xs), "min": xs[0], "median": statistics.median(xs), "p99": p99, "max": xs[-1]}


def one(kc, code, timeout=30):
    """(seconds to execute_reply, seconds to idle) for one execute."""
    t0 = time.perf_counter()
    mid = kc.execute(code, store_history=True)
    while True:
        m = kc.get_shell_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") == mid and m["msg_type"] == "execute_reply":
            t_reply = time.perf_counter() - t0
            break
    while True:  # already queued by now, as a server's relay would have it
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") == mid and m["msg_type"] == "status" \
                and m["content"]["execution_state"] == "idle":
            return t_reply, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="timed executes per cell (200; 50 with --quick)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--transport", default="tcp", choices=("tcp", "ipc"))
    ap.add_argument("--json-out")
    a = ap.parse_args()
    n = min(a.n, 50) if a.quick else a.n
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet ipykernel's debugger

    kw = {"kernel_name": a.kernel, "transport": a.transport}
    tmp = None
    if a.transport == "ipc":
        tmp = tempfile.TemporaryDirectory(prefix="bench-floor-")
        kw["ip"] = tmp.name + "/k"
    km = KernelManager(**kw)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.blocking_client()
    kc.start_channels()
    out = {"kernel": a.kernel, "transport": a.transport, "quick": a.quick, "results": {}}
    try:
        kc.wait_for_ready(timeout=60)
        out["results"]["kernel_ready_s"] = time.perf_counter() - t0
        for _ in range(5 if a.quick else 20):
            one(kc, "1+1")
        for code, key in (("1+1", "trivial"), ("pass", "pass")):
            rr, ri = [], []
            for _ in range(n):
                r, i = one(kc, code)
                rr.append(r)
                ri.append(i)
            out["results"][key] = {"code": code, "execute_reply_s": stats(rr), "execute_idle_s": stats(ri)}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        if tmp:
            tmp.cleanup()
    text = json.dumps(out, indent=1)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
