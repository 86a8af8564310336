#!/usr/bin/python3
"""Reference vectors for tests/unit/test_wire.c, from jupyter_client itself.

  wire_vectors.py make         print messages serialized by jupyter_client's Session
  wire_vectors.py check FILE   deserialize (with signature check) frames written by cellgate

Both speak JSON lines whose frames are base64, so the C test needs no Python
binding: it runs this script as a child process.
"""
import base64, json, sys

from jupyter_client.session import Session

KEY = b"5ca1ab1e-0ddba11-c0ffee"


def b64(b):
    return base64.b64encode(b).decode()


def make():
    s = Session(key=KEY, signature_scheme="hmac-sha256", username="alice")
    cases = [
        ("execute_request", {"code": "1+1", "silent": False, "store_history": True,
                             "user_expressions": {}, "allow_stdin": True, "stop_on_error": True},
         None, [], [b"client-1"]),
        ("stream", {"name": "stdout", "text": "h\u00e9llo \u2603 \U0001f600\n"}, None, [], []),
        ("comm_msg", {"comm_id": "c", "data": {"x": [1, 2.5, None, True]}}, None,
         [b"\x00\x01\x02binary", b""], [b"a", b"b"]),
    ]
    parent = None
    for msg_type, content, _, buffers, ids in cases:
        msg = s.msg(msg_type, content=content, parent=parent, metadata={"cellId": "xyz"})
        frames = s.serialize(msg, ident=ids)
        if buffers:
            frames += buffers
        parent = msg
        print(json.dumps({"msg_type": msg_type, "msg_id": msg["header"]["msg_id"],
                          "n_ids": len(ids), "frames": [b64(f) for f in frames]}))


def check(path):
    s = Session(key=KEY, signature_scheme="hmac-sha256")
    for line in open(path):
        frames = [base64.b64decode(f) for f in json.loads(line)["frames"]]
        ids, rest = s.feed_identities(frames, copy=True)
        msg = s.deserialize(rest, content=True, copy=True)
        print(json.dumps({"ids": [i.decode() for i in ids], "msg_type": msg["header"]["msg_type"],
                          "content": msg["content"], "parent_msg_id": msg["parent_header"].get("msg_id", ""),
                          "n_buffers": len(msg["buffers"])}))


if __name__ == "__main__":
    make() if sys.argv[1] == "make" else check(sys.argv[2])
