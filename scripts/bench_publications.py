"""What publishing a version costs the server, on this machine.

    /usr/bin/python3 scripts/bench_publications.py [ROUNDS]

One notebook saved 2*ROUNDS+1 times (default ROUNDS 50) through a real
server started as the integration tests start it (--policy). Prints medians of
  direct: the server's token publishes a version (201: the store's
          transaction and the audit entry, both fsynced)
  prompt: a researcher's token asks (202), a reviewer answers allow_once,
          the researcher asks again (201): three requests
and the time to list every publication for a capability token.
"""
import os
import sqlite3
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "py"))
os.chdir(os.path.join(HERE, ".."))

from test_publications import answer, mint, notebook, policy_server, publish, run_server  # noqa: E402


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    gen = run_server(policy_server())
    srv = next(gen)
    try:
        rita, rev = mint(srv, "rita"), mint(srv, "rev")
        vs = notebook(srv, "b/nb.ipynb", 2 * rounds + 1)
        direct, flow = [], []
        for v in vs[:rounds]:
            t = time.perf_counter()
            assert publish(srv, True, "b/nb.ipynb", v).status_code == 201
            direct.append(time.perf_counter() - t)
        for v in vs[rounds:2 * rounds]:
            t = time.perf_counter()
            pid = publish(srv, rita, "b/nb.ipynb", v).json()["prompt"]["id"]
            assert answer(srv, rev, pid, "allow_once").status_code == 200
            assert publish(srv, rita, "b/nb.ipynb", v).status_code == 201
            flow.append(time.perf_counter() - t)
        t = time.perf_counter()
        listed = srv.request("GET", "/api/cellgate/publications", token=rita).json()["publications"]
        took = time.perf_counter() - t
        db = sqlite3.connect(os.path.join(srv.state, "store.sqlite"))
        rows = db.execute("SELECT count(*) FROM publications").fetchone()[0]
        db.close()
        assert rows == len(listed) == 2 * rounds
        print(f"direct: median {statistics.median(direct) * 1000:.1f} ms over {rounds}")
        print(f"prompt: median {statistics.median(flow) * 1000:.1f} ms over {rounds} "
              "(ask, answer, ask again)")
        print(f"list:   {took * 1000:.1f} ms for {len(listed)} publications")
    finally:
        next(gen, None)


if __name__ == "__main__":
    main()
