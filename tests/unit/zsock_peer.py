#!/usr/bin/python3
"""libzmq (pyzmq) peers for tests/unit/test_zsock_interop.c: sockets that
bind where cellgate's zsock connects, as a kernel's do.

  zsock_peer.py ipc DIR      binds ipc://DIR/router, ipc://DIR/pub, ipc://DIR/rep
  zsock_peer.py tcp DIR      binds three free ports on 127.0.0.1 and writes
                             them to DIR/ports ("router pub rep")

ROUTER answers [id, frames...] with [id, id, frames...], so the client sees
the identity the ROUTER saw. PUB publishes [b"topic", counter, 300 x b"p"]
every 20 ms. REP echoes. Runs until killed.
"""
import os
import sys

import zmq


def main():
    kind, where = sys.argv[1], sys.argv[2]
    if kind == "ipc":
        eps = [f"ipc://{where}/{n}" for n in ("router", "pub", "rep")]
        for n in ("router", "pub", "rep"):
            try:
                os.unlink(os.path.join(where, n))  # left by a killed peer
            except FileNotFoundError:
                pass
    ctx = zmq.Context()
    router, pub, rep = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB), ctx.socket(zmq.REP)
    for s in (router, pub, rep):
        s.linger = 0
    if kind == "ipc":
        for s, ep in zip((router, pub, rep), eps):
            s.bind(ep)
    else:
        ports = [s.bind_to_random_port("tcp://127.0.0.1") for s in (router, pub, rep)]
        with open(os.path.join(where, "ports.tmp"), "w") as f:
            f.write(" ".join(map(str, ports)))
        os.rename(os.path.join(where, "ports.tmp"), os.path.join(where, "ports"))
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    poller.register(rep, zmq.POLLIN)
    n = 0
    while True:
        for s, _ in poller.poll(20):
            if s is router:
                m = router.recv_multipart()
                router.send_multipart([m[0], m[0]] + m[1:])
            else:
                rep.send_multipart(rep.recv_multipart())
        pub.send_multipart([b"topic", str(n).encode(), b"p" * 300])
        n += 1


if __name__ == "__main__":
    main()
