"""Where jbench's stream step spends its time: a cell printing 100,000 lines,
from execute_request to status idle, against servers started by serve.py.
It compares cellgate as configured, cellgate without the sandbox hardening
(--sandbox-plain), cellgate without execution records (--no-record), and
Jupyter Server 1.23, each configuration once per round, in turn, so that a
change in the machine's load hits them all.

    /usr/bin/python3 scripts/bench_stream.py [ROUNDS] [REPS]   # default 2 rounds of 20

Prints the median per configuration and round.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = [("cellgate", []), ("cellgate --sandbox-plain", ["--server-arg=--sandbox-plain"]),
           ("cellgate --no-record", ["--server-arg=--no-record"]), ("reference", ["--reference"])]


def client(reps):
    """Runs inside serve.py: one kernel, reps executions of the stream cell."""
    import requests
    import websocket
    base, token = os.environ["CELLGATE_URL"], os.environ["CELLGATE_TOKEN"]
    auth = {"Authorization": f"token {token}"}
    kid = requests.post(base + "/api/kernels", headers=auth, json={"name": "python3"},
                        timeout=60).json()["id"]
    ws = None
    for _ in range(120):  # until the kernel answers
        try:
            ws = websocket.create_connection(
                base.replace("http", "ws", 1) + f"/api/kernels/{kid}/channels?session_id=bench",
                header=[f"Authorization: token {token}"], timeout=120)
            break
        except Exception:  # noqa: BLE001 - not ready yet
            time.sleep(0.5)

    def execute(code):
        mid = uuid.uuid4().hex
        ws.send(json.dumps({"header": {"msg_id": mid, "msg_type": "execute_request", "username": "b",
                                       "session": "bench", "date": "", "version": "5.3"},
                            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                            "content": {"code": code, "silent": False, "store_history": True,
                                        "user_expressions": {}, "allow_stdin": False,
                                        "stop_on_error": True}}))
        t0 = time.perf_counter()
        while True:
            m = json.loads(ws.recv())
            if m.get("parent_header", {}).get("msg_id") == mid and m["header"]["msg_type"] == "status" \
                    and m["content"]["execution_state"] == "idle":
                return time.perf_counter() - t0
    execute("1+1")
    times = [execute("for i in range(100000): print(i)") for _ in range(reps)]
    print(json.dumps({"median_ms": statistics.median(times) * 1000}))
    ws.close()
    requests.delete(base + f"/api/kernels/{kid}", headers=auth, timeout=60)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    serve = os.path.join(REPO, "tests", "integration", "py", "serve.py")
    for r in range(rounds):
        for name, args in CONFIGS:
            out = subprocess.run(["/usr/bin/python3", serve, "--quiet", *args, "--",
                                  "/usr/bin/python3", os.path.abspath(__file__), "--client", str(reps)],
                                 capture_output=True, text=True, timeout=900)
            line = [x for x in out.stdout.splitlines() if x.startswith("{")]
            got = f"{json.loads(line[-1])['median_ms']:.1f} ms" if line else "failed: " + out.stderr[-300:]
            print(f"round {r + 1}  {name:26} {got}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        client(int(sys.argv[2]))
    else:
        main()
