"""Channel-open cost of the ownership check (docs/policy.md): an agent (its
notebook's owner looked up in the store, a history of N versions walked)
against a researcher (not looked up), on the same kernel; the median of M
upgrades each. Usage: /usr/bin/python3 scripts/bench_owner.py N M"""
import json, os, statistics, subprocess, sys, time
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "py"))
os.environ.setdefault("CELLGATE_BIN", os.path.join(REPO, "bin", "cellgate"))
from conftest import Server, run_server, cellgate_bin

N, M = int(sys.argv[1]), int(sys.argv[2])
s = Server(False)
s.policy_file = os.path.join(s.tmp, "policy.json")
json.dump({"principals": {"alice": {"kind": "researcher"},
                          "bot": {"kind": "agent", "actions": ["read", "write", "execute"]}}},
          open(s.policy_file, "w"))
s.extra_args += ["--policy", s.policy_file]

def mint(srv, who):
    return subprocess.run([cellgate_bin(), "token", "mint", "--principal", who, "--policy",
                           srv.policy_file, "--state", srv.state], capture_output=True,
                          check=True).stdout.decode().strip()

for srv in run_server(s):
    bot, alice = mint(srv, "bot"), mint(srv, "alice")
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    for i in range(N):
        nb["cells"] = [{"id": "c", "cell_type": "code", "source": str(i), "metadata": {},
                        "outputs": [], "execution_count": None}]
        assert srv.request("PUT", "/api/contents/b.ipynb", token=bot,
                           json={"type": "notebook", "content": nb}).status_code in (200, 201)
    r = srv.request("POST", "/api/sessions", token=bot, json={"path": "b.ipynb", "type": "notebook",
                                                              "kernel": {"name": "python3"}})
    kid = r.json()["kernel"]["id"]
    srv._kernels.add(kid)
    srv.wait_kernel_ready(kid, 120)
    for who, tok in (("researcher", alice), ("agent", bot)) * 2:
        t = []
        for _ in range(M):
            a = time.perf_counter()
            srv.ws_connect(kid, token=tok).close()
            t.append((time.perf_counter() - a) * 1000)
        print(f"{who}: {N} versions, median upgrade {statistics.median(t):.2f} ms over {M}")
