"""What reading a secret costs, on this machine, against a real server.

    /usr/bin/python3 scripts/bench_secrets.py [ROUNDS]

A python3 kernel started by an agent's token reads a secret ROUNDS times
(default 10), each held on its prompt until an approver answers allow_once;
then, allowed for the kernel session, 50 reads inside one cell. Prints
  answer: the answer's POST is sent -> the cell's reply is in (the POST,
          the broker reads the file, audits, writes the value; the cell ends)
  read:   one urlopen of a session-allowed secret inside the kernel (proxy,
          relay, broker, sqlite read, an audit append with its fsync)
The server is started as the integration tests start it (their fixtures).
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "py"))
os.chdir(os.path.join(HERE, ".."))

import test_secrets as T  # noqa: E402
from conftest import run_server  # noqa: E402

READS = '''
import os, time, urllib.request
u = os.environ["CELLGATE_SECRETS_URL"] + "SESSION_ONE"
ts = []
for i in range(50):
    t0 = time.perf_counter()
    urllib.request.urlopen(u).read()
    ts.append((time.perf_counter() - t0) * 1000)
ts.sort()
print("%.1f %.1f %.1f" % (ts[25], ts[45], ts[-1]))
'''


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for s in run_server(T.secrets_server()):
        T.add_tokens_and_secrets(s)
        kid = T.agent_kernel(s)
        answer_ms = []
        for _ in range(rounds):
            cell = T.Read(s, kid, "DB_PASSWORD")
            p = T.pending_prompt(s, kid, s.alice)
            t0 = time.monotonic()
            assert T.answer(s, p["id"], "allow_once", s.alice).status_code == 200
            assert cell.result() == T.digest("DB_PASSWORD")
            answer_ms.append((time.monotonic() - t0) * 1000)
        cell = T.Read(s, kid, "SESSION_ONE")
        p = T.pending_prompt(s, kid, s.alice)
        T.answer(s, p["id"], "allow_session", s.alice)
        cell.result()
        med, p90, worst = s.execute(kid, READS, timeout=300).stdout.split()
        print(f"answer -> reply: median {statistics.median(answer_ms):.1f} ms over {rounds} "
              f"(min {min(answer_ms):.1f}, max {max(answer_ms):.1f})")
        print(f"session read in the kernel: median {med} ms, p90 {p90}, max {worst} (50 reads)")


if __name__ == "__main__":
    main()
