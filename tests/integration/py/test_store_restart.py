"""The store across server restarts and crashes, each test with a server of
its own on a state directory and workspace that outlive the process.

- Reconciliation at start: a notebook edited while the server was down, a
  file behind its branch (a crash between a save's commit and its file
  write) and a file ahead of its record (a crash between the file write and
  its record) are all put right before the server answers, and the
  temporary file an interrupted write left is removed.
- A crash test: a client saves in a loop through the HTTP API while the
  server is SIGKILLed at random moments, 25 times, restarted on the same
  state each time. Every acknowledged save is in the store with its exact
  bytes, the working copy is always a valid notebook equal to an
  acknowledged version (or the one save in flight), and
  PRAGMA integrity_check is ok after every kill.
"""
import hashlib
import json
import os
import random
import sqlite3
import threading
import time

import nbformat
import pytest
import requests

from conftest import Server, run_server
from test_versions import expected_bytes, make_nb

pytestmark = pytest.mark.cellgate_only(reason="cellgate's store and its recovery")


@pytest.fixture
def own_server():
    yield from run_server(Server(False))


def put(srv, path, nb, timeout=60):
    return srv.request("PUT", "/api/contents/" + path, json={"type": "notebook", "content": nb},
                       timeout=timeout)


def db(srv):
    con = sqlite3.connect(os.path.join(srv.state, "store.sqlite"), timeout=30)
    con.row_factory = sqlite3.Row
    return con


def versions(srv, path):
    with db(srv) as con:
        return [dict(r) for r in con.execute(
            "SELECT id, principal, message FROM versions WHERE path = ? ORDER BY seq", (path,))]


def checkout(srv, path):
    with db(srv) as con:
        return dict(con.execute("SELECT * FROM checkouts WHERE path = ?", (path,)).fetchone())


def set_checkout(srv, path, version, data):
    con = db(srv)
    with con:
        con.execute("UPDATE checkouts SET version = ?, file_sha256 = ? WHERE path = ?",
                    (version, hashlib.sha256(data).hexdigest(), path))
    con.close()


def ws_file(srv, path):
    return os.path.join(srv.workspace, path)


def read(srv, path):
    with open(ws_file(srv, path), "rb") as f:
        return f.read()


def write(srv, path, data):
    with open(ws_file(srv, path), "wb") as f:
        f.write(data)


def restart(srv):
    problems = srv.stop()
    assert not problems, problems
    srv.start()


def test_edit_while_down_is_imported_at_start(own_server):
    srv = own_server
    nb = make_nb(3)
    r = put(srv, "down.ipynb", nb)
    assert r.status_code == 201, r.text
    v1 = r.headers["X-Cellgate-Version"]
    srv.stop()
    nb["cells"][0]["source"] = "edited while the server was down"
    write(srv, "down.ipynb", expected_bytes(nb))
    srv.start()
    # before any request touches the notebook
    vs = versions(srv, "down.ipynb")
    assert [v["id"] for v in vs][0] == v1 and len(vs) == 2, vs
    assert vs[1]["principal"] == "filesystem"
    co = checkout(srv, "down.ipynb")
    assert co["version"] == vs[1]["id"]
    assert co["file_sha256"] == hashlib.sha256(read(srv, "down.ipynb")).hexdigest()


def test_file_behind_its_branch_is_rewritten_at_start(own_server):
    """The state a crash between a save's commit and its file write leaves."""
    srv = own_server
    nb = make_nb(3)
    v1 = put(srv, "behind.ipynb", nb).headers["X-Cellgate-Version"]
    old = read(srv, "behind.ipynb")
    nb["cells"][1]["source"] = "committed, never written"
    r = put(srv, "behind.ipynb", nb)
    assert r.status_code == 200, r.text
    v2 = r.headers["X-Cellgate-Version"]
    srv.stop()
    write(srv, "behind.ipynb", old)
    set_checkout(srv, "behind.ipynb", v1, old)
    # and the temporary file of the write that never finished
    tmp = ws_file(srv, ".~behind.ipynb.0123456789abcdef.tmp")
    with open(tmp, "wb") as f:
        f.write(b"half a notebo")
    keep = ws_file(srv, ".~behind.ipynb.not-ours.tmp")
    with open(keep, "wb") as f:
        f.write(b"someone else's")
    srv.start()
    assert read(srv, "behind.ipynb") == expected_bytes(nb)
    assert checkout(srv, "behind.ipynb")["version"] == v2
    assert [v["id"] for v in versions(srv, "behind.ipynb")] == [v1, v2]
    assert not os.path.exists(tmp)
    assert os.path.exists(keep)


def test_file_ahead_of_its_record_makes_no_new_version_at_start(own_server):
    """The state a crash between a save's file write and its record leaves."""
    srv = own_server
    nb = make_nb(3)
    v1 = put(srv, "ahead.ipynb", nb).headers["X-Cellgate-Version"]
    old = read(srv, "ahead.ipynb")
    nb["cells"][1]["source"] = "written, not recorded"
    v2 = put(srv, "ahead.ipynb", nb).headers["X-Cellgate-Version"]
    srv.stop()
    set_checkout(srv, "ahead.ipynb", v1, old)
    srv.start()
    assert [v["id"] for v in versions(srv, "ahead.ipynb")] == [v1, v2]
    co = checkout(srv, "ahead.ipynb")
    assert co["version"] == v2 and co["file_sha256"] == hashlib.sha256(expected_bytes(nb)).hexdigest()


def test_a_broken_file_and_a_missing_file_do_not_stop_the_start(own_server):
    srv = own_server
    put(srv, "broken.ipynb", make_nb(1))
    put(srv, "missing.ipynb", make_nb(1))
    srv.stop()
    write(srv, "broken.ipynb", b"{ not json")
    os.remove(ws_file(srv, "missing.ipynb"))
    srv.start()
    assert len(versions(srv, "broken.ipynb")) == 1
    assert read(srv, "broken.ipynb") == b"{ not json"
    assert "not reconciled at start" in srv.log_tail(80)
    r = srv.request("GET", "/api/contents/broken.ipynb")
    assert r.status_code == 400 and "message" in r.json()


# ---------------------------------------------------------------- crash test

KILLS = int(os.environ.get("CELLGATE_CRASH_KILLS", "25"))


def crash_nb(i):
    nb = make_nb(60, prefix="k")
    for c in nb["cells"]:
        c["outputs"][0]["text"] = "x" * 2000 + "\n"
    nb["cells"][i % 60]["source"] = f"save {i}"
    nb["metadata"]["counter"] = i
    return nb


def test_server_sigkilled_during_saves_loses_no_acknowledged_save(own_server):
    srv = own_server
    path = "crash.ipynb"
    acked = {}          # version id -> the bytes the file had for it
    acked_bytes = set()
    rng = random.Random(os.environ.get("CELLGATE_CRASH_SEED") or time.time())
    counter = [0]

    def saver(stop):
        """Saves until the server goes away; returns the save in flight."""
        while not stop.is_set():
            i = counter[0]
            counter[0] += 1
            nb = crash_nb(i)
            try:
                r = put(srv, path, nb, timeout=30)
            except requests.RequestException:
                return expected_bytes(nb)
            if r.status_code not in (200, 201):
                raise AssertionError((r.status_code, r.text[:300]))
            acked[r.headers["X-Cellgate-Version"]] = expected_bytes(nb)
            acked_bytes.add(expected_bytes(nb))
        return None

    for k in range(KILLS):
        stop = threading.Event()
        delay = rng.uniform(0.02, 0.6)
        timer = threading.Timer(delay, lambda: (stop.set(), srv.proc.kill()))
        timer.start()
        in_flight = saver(stop)
        timer.join()
        srv.proc.wait(10)
        srv.log.close()
        # the store opens and is whole; the file is a notebook that was saved
        with db(srv) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        if os.path.exists(ws_file(srv, path)):
            data = read(srv, path)
            nbformat.validate(nbformat.reads(data.decode(), 4))
            assert data in acked_bytes or data == in_flight, f"kill {k}: the file is no saved version"
        srv.start()
        # after the start's reconciliation the file shows the branch's head
        with db(srv) as con:
            head = con.execute("SELECT version FROM branches WHERE path = ? AND name = 'main'",
                               (path,)).fetchone()
        if head:
            data = read(srv, path)
            assert data in acked_bytes or data == in_flight
            if head[0] in acked:
                assert data == acked[head[0]], f"kill {k}: the file is not its head {head[0]}"
    assert len(acked) >= KILLS, f"only {len(acked)} acknowledged saves in {KILLS} rounds"
    # every acknowledged save is there, byte for byte
    stored = {v["id"] for v in versions(srv, path)}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged saves are not in the store"
    for vid, data in acked.items():
        r = srv.request("GET", f"/api/cellgate/version/{vid}", params={"format": "ipynb"})
        assert r.status_code == 200 and r.content == data, vid
    print(f"\ncrash test: {KILLS} kills, {len(acked)} acknowledged saves, {counter[0]} attempted")
