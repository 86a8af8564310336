"""The round trip of an egress prompt, on this machine, against a real server.

    /usr/bin/python3 scripts/bench_prompts.py [ROUNDS]

A python3 kernel started by an agent's token fetches from a loopback HTTP
server through an egress-ask rule, ROUNDS times (default 20); an approver
reads GET /api/cellgate/events and answers allow_once each time. Prints
medians of
  push: the cell is sent -> its prompt arrives on the approver's stream
        (WebSocket, execute, the kernel's urlopen, relay, broker, prompt, SSE)
  go:   the answer's POST has returned -> the cell's execute_reply is in
        (broker settles, resolves, connects, fetches; the cell finishes)
The server is started as the integration tests start it (their fixtures).
"""
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "py"))
os.chdir(os.path.join(HERE, ".."))

import test_egress_prompts as T  # noqa: E402
from conftest import free_port, run_server  # noqa: E402
from test_egress import HOST, Handler, ThreadingServer  # noqa: E402


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    port = free_port()
    httpd = ThreadingServer((HOST, port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    for s in run_server(T.policy_server(port)):
        T.setup_tokens(s)
        kid = T.agent_kernel(s)
        ev = T.Events(s, s.alice)
        ev.next(lambda k, v: k == "comment")
        push, go = [], []
        for i in range(rounds):
            t0 = time.monotonic()
            cell = T.Cell(s, kid, port, f"bench{i}")
            _, p = ev.next(lambda k, v: k == "prompt" and v["state"] == "pending")
            t1 = time.monotonic()
            assert T.answer(s, p["id"], "allow_once", s.alice).status_code == 200
            t2 = time.monotonic()
            assert cell.result().startswith("body"), "the fetch failed"
            go.append((time.monotonic() - t2) * 1000)
            push.append((t1 - t0) * 1000)
        ev.close()
        s.delete_kernel(kid)
    httpd.shutdown()
    for name, xs in (("push", push), ("go", go)):
        print(f"{name}: median {statistics.median(xs):.1f} ms, min {min(xs):.1f}, "
              f"max {max(xs):.1f} ({rounds} rounds)")


if __name__ == "__main__":
    main()
