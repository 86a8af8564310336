#!/usr/bin/python3
"""Kernel start time with the sandbox's full hardening against the plain
sandbox and against Jupyter Server's unsandboxed start (make bench).

Four servers at once, measured in turn (round robin), started as the
integration tests start them (tests/integration/py/conftest.py):
  hardened   cellgate as configured by default: seccomp filter, cgroups,
             CPU/disk watcher, egress relay in the sandbox
  no-relay   cellgate --no-egress: the same without the egress relay
  plain      cellgate --sandbox-plain: bubblewrap alone (namespaces, the
             read-only host, capabilities dropped)
  reference  Jupyter Server 1.23, ipykernel without a sandbox

For each: the median of N starts of an ipykernel (POST /api/kernels until it
answers kernel_info over the WebSocket), and for cellgate also the median
sandbox launch alone: a kernelspec that exits at once (/bin/false), timed
from POST to the server's answer that it died, which holds fork, bubblewrap,
the hardening and exec, and no Python. The cellgate servers keep a spare
launch child ready (sandbox/spare.c), made 100 ms after each launch; the
launches above are spaced out as a real server sees them, so they find it
ready. "back-to-back" is a second launch POSTed as soon as the first
answered, which finds no spare and takes the path without it (its own
fresh cgroups, joined while the launch waits).

    bench_sandbox.py [--n 10] [--json-out FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration", "py"))
from conftest import FALSE_KERNEL, Server  # noqa: E402


def launch_once(server):
    t0 = time.monotonic()
    r = server.request("POST", "/api/kernels", json={"name": FALSE_KERNEL})
    assert r.status_code == 500, r.text
    return time.monotonic() - t0


def measure(server, n, launch_only):
    starts, launches, b2b = [], [], []
    for _ in range(n):
        t0 = time.monotonic()
        kid = server.start_kernel()
        starts.append(time.monotonic() - t0)
        server.delete_kernel(kid)
        if launch_only:
            launches.append(launch_once(server))
            b2b.append(launch_once(server))
    return starts, launches, b2b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    variants = (("hardened", False, []), ("no-relay", False, ["--no-egress"]),
                ("plain", False, ["--sandbox-plain"]), ("reference", True, []))
    servers, samples = {}, {}
    try:
        for name, reference, extra in variants:
            servers[name] = Server(reference, extra_args=extra)
            servers[name].start()
            measure(servers[name], 1, not reference)  # warm the page cache
            samples[name] = ([], [], [])
        # round robin, so that the load other work puts on the machine
        # falls on every variant alike
        for _ in range(args.n):
            for name, reference, _extra in variants:
                for i, got in enumerate(measure(servers[name], 1, not reference)):
                    samples[name][i].extend(got)
    finally:
        for s in servers.values():
            s.shutdown_kernels()
            s.stop()
            s.cleanup()
    def ms(xs):
        return statistics.median(xs) * 1000 if xs else None

    results = {name: {"kernel_start_ms": ms(st), "launch_ms": ms(la), "launch_b2b_ms": ms(bb),
                      "n": args.n}
               for name, (st, la, bb) in samples.items()}
    print(f"kernel start, median of {args.n} (ms): "
          "ipykernel ready / sandbox launch alone / launch back-to-back")
    for name, r in results.items():
        launch = " / ".join(f"{r[k]:5.1f}" if r[k] is not None else "    -"
                            for k in ("launch_ms", "launch_b2b_ms"))
        print(f"  {name:10s} {r['kernel_start_ms']:8.1f} / {launch}")
    h, p = results["hardened"], results["plain"]
    print(f"  hardening adds {h['launch_ms'] - p['launch_ms']:+.1f} ms to a launch, "
          f"{h['kernel_start_ms'] - p['kernel_start_ms']:+.1f} ms to an ipykernel start, "
          f"{h['launch_b2b_ms'] - p['launch_b2b_ms']:+.1f} ms to a back-to-back launch")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
