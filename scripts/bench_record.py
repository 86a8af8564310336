#!/usr/bin/python3
"""What execution records cost the relay: the execute round trip with
recording on and off, side by side.

Starts two cellgate servers exactly as the integration tests do
(tests/integration/py/conftest.py), one as is and one with --no-record,
a python3 kernel in each (bubblewrap), and times execute_request ->
execute_reply and -> status idle over the kernel WebSocket, with
metadata.cellId as JupyterLab sends it. The two are measured in
alternating rounds so that the load of a shared machine falls on both
alike; medians are compared.

    /usr/bin/python3 scripts/bench_record.py [--n 300] [--rounds 6] [--quick] [--json-out FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "py"))

from conftest import Server  # noqa: E402

CELLS = {"trivial": "1+1", "output": "for i in range(20): print('line', i)"}


def one(ws, code, cell_id, timeout=30):
    msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "bench",
                      "session": ws.session, "date": "", "version": "5.3"},
           "parent_header": {}, "metadata": {"cellId": cell_id},
           "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                       "allow_stdin": False, "stop_on_error": True},
           "channel": "shell", "buffers": []}
    mid = msg["header"]["msg_id"]
    t0 = time.perf_counter()
    ws.send_raw(json.dumps(msg))
    t_reply = t_idle = None
    while t_reply is None or t_idle is None:
        m = ws.recv(timeout=timeout)
        if m is None:
            raise TimeoutError("no answer")
        if m.get("parent_header", {}).get("msg_id") != mid:
            continue
        t = time.perf_counter() - t0
        if m["header"]["msg_type"] == "execute_reply":
            t_reply = t
        elif m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            t_idle = t
    return t_reply, t_idle


def stats(xs):
    xs = sorted(xs)
    return {"n": len(xs), "median": statistics.median(xs), "p90": xs[int(0.9 * (len(xs) - 1))],
            "min": xs[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="executes per cell and mode, in all rounds")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    n = 60 if a.quick else a.n
    per_round = max(1, n // a.rounds)
    servers = {"on": Server(False), "off": Server(False, extra_args=["--no-record"])}
    kernels, sockets = {}, {}
    res = {mode: {cell: {"reply": [], "idle": []} for cell in CELLS} for mode in servers}
    try:
        for mode, s in servers.items():
            s.start()
            r = s.request("POST", "/api/sessions", json={"path": f"bench-{mode}.ipynb", "type": "notebook",
                                                         "name": "", "kernel": {"name": "python3"}})
            assert r.status_code == 201, r.text
            kernels[mode] = r.json()["kernel"]["id"]
            s._kernels.add(kernels[mode])
            s.wait_kernel_ready(kernels[mode], timeout=90)
            sockets[mode] = s.ws_connect(kernels[mode])
            for cell, code in CELLS.items():
                for _ in range(10):  # warm up
                    one(sockets[mode], code, cell)
        for rnd in range(a.rounds):
            order = ("on", "off") if rnd % 2 == 0 else ("off", "on")
            for mode in order:
                for cell, code in CELLS.items():
                    for _ in range(per_round):
                        r, i = one(sockets[mode], code, cell)
                        res[mode][cell]["reply"].append(r)
                        res[mode][cell]["idle"].append(i)
        recorded = servers["on"].request("GET", "/api/status").json().get("recorder")
    finally:
        for mode, s in servers.items():
            if mode in sockets:
                sockets[mode].close()
            s.shutdown_kernels()
            s.stop()
            s.cleanup()
    out = {"rounds": a.rounds, "per_round": per_round, "results": {}}
    print(f"execute round trip, recording on vs off (medians of {per_round * a.rounds} per cell, "
          f"{a.rounds} alternating rounds)")
    print(f"{'cell':10} {'to':6} {'on':>10} {'off':>10} {'on - off':>10}")
    for cell in CELLS:
        for what in ("reply", "idle"):
            on, off = stats(res["on"][cell][what]), stats(res["off"][cell][what])
            d = on["median"] - off["median"]
            out["results"][f"{cell}.{what}"] = {"on": on, "off": off, "difference_s": d}
            print(f"{cell:10} {what:6} {on['median'] * 1e3:8.3f}ms {off['median'] * 1e3:8.3f}ms "
                  f"{d * 1e3:+8.3f}ms")
    if recorded is not None:
        out["recorder"] = recorded
        execs = recorded["recorded"] + recorded["queued"] + recorded["in_flight"]
        print(f"recording server: {execs} executions recorded ({recorded['failed']} failed); "
              f"time in the relay's path: {recorded['relay_ns'] / 1e3 / max(1, execs):.1f} us per execution, "
              f"{recorded['relay_ns'] / max(1, recorded['relay_messages']):.0f} ns per message "
              f"({recorded['relay_messages']} messages); the writes run on a worker thread")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
