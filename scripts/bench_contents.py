#!/usr/bin/python3
"""The contents part of the reference workload alone: jbench.py's own
contents step (PUT then GET of a 200-cell, ~2 MB notebook, 20 times),
repeated ROUNDS times against the server at CELLGATE_URL (as serve.py gives
it), printing the medians over all rounds as JSON.

    /usr/bin/python3 tests/integration/py/serve.py [--reference] -- \\
        /usr/bin/python3 scripts/bench_contents.py [--rounds 3] [--json-out F]

Used by scripts/bench.sh (BENCH_ONLY=contents) to compare cellgate and
Jupyter Server side by side without the kernel workloads around it.
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))


def load_jbench():
    path = os.environ.get("JBENCH") or os.path.join(HERE, "..", "..", "shared", "bench", "jbench.py")
    spec = importlib.util.spec_from_file_location("jbench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    jb = load_jbench()
    b = jb.Bench(types.SimpleNamespace(url=os.environ["CELLGATE_URL"], token=os.environ["CELLGATE_TOKEN"],
                                       kernel="python3", quick=False, server_pid=0))
    put, get = [], []
    for _ in range(a.rounds):
        res = {}
        b.contents(res)
        if "contents" not in res:
            print("bench_contents: the contents step failed: %s" % b.out["notes"], file=sys.stderr)
            return 1
        # jbench keeps only the statistics; the medians of each round are what we pool
        put.append(res["contents"]["put_s"]["median"])
        get.append(res["contents"]["get_s"]["median"])
    out = {"rounds": a.rounds, "put_median_ms": 1000 * statistics.median(put),
           "get_median_ms": 1000 * statistics.median(get),
           "put_round_medians_ms": [round(1000 * x, 2) for x in put],
           "get_round_medians_ms": [round(1000 * x, 2) for x in get]}
    text = json.dumps(out, indent=1)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
