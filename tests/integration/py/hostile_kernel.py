"""A kernel that lies to the server, for test_hostile_kernel.py.

It answers kernel_info properly (so the server declares it ready), then
answers every execute_request with a burst of broken messages on shell and
IOPub -- a bad signature, no delimiter, missing parts, a header that is not
JSON, a header without msg_type, too many frames -- followed by the genuine
output ("survived") and reply. Runs inside the sandbox with Debian's pyzmq.
"""
import datetime
import hashlib
import hmac
import json
import sys
import threading
import uuid

import zmq

cfg = json.load(open(sys.argv[1]))
KEY = cfg["key"].encode()
SESSION = uuid.uuid4().hex


def endpoint(name):
    port = cfg[name + "_port"]
    if cfg["transport"] == "ipc":
        return f"ipc://{cfg['ip']}-{port}"
    return f"tcp://{cfg['ip']}:{port}"


def sign(parts):
    h = hmac.new(KEY, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


def parts_for(msg_type, parent, content):
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "hostile",
              "session": SESSION, "date": datetime.datetime.utcnow().isoformat() + "Z",
              "version": "5.3"}
    return [json.dumps(x).encode() for x in (header, parent, {}, content)]


def send(sock, ids, parts, sig=None):
    sock.send_multipart(ids + [b"<IDS|MSG>", sign(parts) if sig is None else sig] + parts)


def garbage(sock, ids, parent):
    """Every way a message can be wrong, each signed where a signature applies."""
    good = parts_for("stream", parent, {"name": "stdout", "text": "forged\n"})
    send(sock, ids, good, sig=b"0" * 64)                    # bad signature
    sock.send_multipart(ids + [b"no delimiter at all"])      # no <IDS|MSG>
    sock.send_multipart(ids + [b"<IDS|MSG>", sign(good[:2])] + good[:2])  # parts missing
    bad_header = [b"{not json"] + good[1:]
    send(sock, ids, bad_header)                             # header is not JSON
    no_type = [json.dumps({"msg_id": "x", "session": SESSION}).encode()] + good[1:]
    send(sock, ids, no_type)                                # header without msg_type
    sock.send_multipart(ids + [b"<IDS|MSG>", sign(good)] + good + [b"b"] * 300)  # 300 buffers


def main():
    ctx = zmq.Context()
    shell, control = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    stdin, iopub, hb = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB), ctx.socket(zmq.REP)
    for sock, name in ((shell, "shell"), (control, "control"), (stdin, "stdin"),
                       (iopub, "iopub"), (hb, "hb")):
        sock.bind(endpoint(name))
    threading.Thread(target=zmq.device, args=(zmq.QUEUE, hb, hb), daemon=True).start()
    poller = zmq.Poller()
    poller.register(shell, zmq.POLLIN)
    poller.register(control, zmq.POLLIN)
    while True:
        for sock, _ in poller.poll():
            frames = sock.recv_multipart()
            i = frames.index(b"<IDS|MSG>")
            ids, header = frames[:i], json.loads(frames[i + 2])
            kind = header["msg_type"]
            send(iopub, [], parts_for("status", header, {"execution_state": "busy"}))
            if kind == "execute_request":
                garbage(iopub, [], header)
                garbage(sock, ids, header)
                send(iopub, [], parts_for("stream", header, {"name": "stdout", "text": "survived\n"}))
                send(sock, ids, parts_for("execute_reply", header,
                                          {"status": "ok", "execution_count": 1,
                                           "user_expressions": {}, "payload": []}))
            elif kind == "kernel_info_request":
                send(sock, ids, parts_for("kernel_info_reply", header, {
                    "status": "ok", "protocol_version": "5.3", "implementation": "hostile",
                    "implementation_version": "1", "banner": "",
                    "language_info": {"name": "hostile", "version": "1",
                                      "mimetype": "text/plain", "file_extension": ".txt"}}))
            elif kind == "shutdown_request":
                send(sock, ids, parts_for("shutdown_reply", header, {"status": "ok", "restart": False}))
                return
            send(iopub, [], parts_for("status", header, {"execution_state": "idle"}))


if __name__ == "__main__":
    main()
