#!/usr/bin/python3
"""jbench's many-clients workload with the client's UTF-8 check turned off.

jbench runs 20 WebSocket clients on one kernel, 50 trivial cells each, in
one Python process. websocket-client validates every text frame's UTF-8 in
pure Python (about 0.16 us a byte here), and every client receives every
IOPub message, so against a fast server that client saturates its core and
its own CPU time becomes the figure. This runs the same workload with
`skip_utf8_validation=True`, so the number says what the server sustains.
make bench prints both.

    bench_many_clients.py --url URL --token T [--clients 20] [--each 50] [--json-out F]
"""
import argparse
import json
import socket
import threading
import time
import uuid

import requests
import websocket


def connect(base, token, kernel_id):
    url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    return websocket.create_connection(
        url + f"?session_id={uuid.uuid4().hex}", header=[f"Authorization: token {token}"],
        timeout=120, skip_utf8_validation=True,
        sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),))


def execute(ws, code="1+1"):
    """Sends one cell; returns once both its reply and its idle status are in."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench",
                   "session": "bench", "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    replied = idle = False
    while not (replied and idle):
        m = json.loads(ws.recv())
        if m.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = m["header"]["msg_type"]
        replied = replied or kind == "execute_reply"
        idle = idle or (kind == "status" and m["content"].get("execution_state") == "idle")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--each", type=int, default=50)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    base, headers = a.url.rstrip("/"), {"Authorization": f"token {a.token}"}
    kid = requests.post(base + "/api/kernels", headers=headers, json={"name": "python3"},
                        timeout=120).json()["id"]
    try:
        warm = connect(base, a.token, kid)
        execute(warm)
        warm.close()

        def worker():
            ws = connect(base, a.token, kid)
            for _ in range(a.each):
                execute(ws)
            ws.close()

        t0, c0 = time.perf_counter(), time.process_time()
        threads = [threading.Thread(target=worker) for _ in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        res = {"clients": a.clients, "each": a.each, "total_s": time.perf_counter() - t0,
               "client_cpu_s": time.process_time() - c0}
    finally:
        requests.delete(base + f"/api/kernels/{kid}", headers=headers, timeout=120)
    print(json.dumps(res))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
