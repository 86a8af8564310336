"""Execution records and per-cell provenance.

A notebook is executed the way JupyterLab executes it (a session, WebSocket
execute_requests with metadata.cellId, outputs kept from IOPub) and saved
through the contents API; /api/cellgate/provenance/ then answers for each
cell: who ran it, when, in which kernel and sandbox, after which executions,
with which package versions, and whether it is stale or unrecorded.
`cellgate log --cells` shows the same.
"""
import os
import subprocess
import time
import uuid

import pytest

from nbclient_ws import Notebook
from test_api import assert_json_error

pytestmark = pytest.mark.cellgate_only(reason="cellgate's execution records")


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def prov(server, path, version=None):
    r = server.request("GET", "/api/cellgate/provenance/" + path,
                       params={"version": version} if version else None)
    assert r.status_code == 200, r.text
    return r.json()


def by_id(p):
    return {c["cell_id"]: c for c in p["cells"]}


def new_path():
    return f"prov-{uuid.uuid4().hex[:8]}.ipynb"


@pytest.fixture
def notebook(server):
    made = []

    def make(cells, path=None, kernel="python3"):
        nb = Notebook(server, path or new_path(), cells, kernel=kernel)
        made.append(nb)
        return nb
    yield make
    for nb in made:
        nb.close()


CELLS = [("a", "x = 40"), ("b", "x += 1\nprint('x is', x)"), ("c", "x + 1")]


def test_provenance_answers_who_when_where_after_what(server, notebook):
    nb = notebook(CELLS)
    for cid in ("a", "b", "c"):
        assert nb.run(cid)["status"] == "ok"
    v = nb.save()
    p = prov(server, nb.path, v)
    assert p["version"] == v and p["path"] == nb.path
    cells = by_id(p)
    assert [cells[c]["state"] for c in "abc"] == ["recorded"] * 3
    assert not any(cells[c]["stale"] for c in "abc")
    c = cells["c"]
    e = c["execution"]
    # who, when
    assert e["principal"] == "server-token"  # the server token's principal (policy/)
    assert e["started"] <= e["ended"] and e["requested"] <= e["started"]
    assert e["status"] == "ok" and e["execution_count"] == nb.cell("c")["execution_count"]
    assert e["code"] == "x + 1" and e["path"] == nb.path and e["cell_id"] == "c"
    assert set(e["kernel_claims"]) >= {"execution_count", "status", "outputs"}
    # which kernel and sandbox
    s = e["session"]
    assert s["kernelspec"] == "python3" and s["kernel_id"] == nb.kid
    assert s["argv"][0].startswith("/") and "ipykernel_launcher" in s["argv"]
    assert s["sandbox"]["class"] == "trusted" and s["sandbox"]["backend"] == "bubblewrap"
    # the limits the sandbox got, as the kernel model tells them, each with
    # the mechanism that enforces it (cgroups where the server may make them)
    limits = s["sandbox"]["limits"]
    model = server.request("GET", f"/api/kernels/{nb.kid}").json()["limits"]
    assert limits["memory_bytes"] == model["memory_bytes"] and limits["memory_bytes"] > 0
    assert limits["mechanism"] == model["mechanism"]
    assert limits["mechanism"]["memory"] in ("cgroup-v1", "cgroup-v2", "rlimit")
    assert limits["mechanism"]["file_size"] == "rlimit"
    # with which packages: dpkg's versions of the interpreter, ipykernel and their dependencies
    env = s["environment"]
    assert env["source"] == "dpkg"
    pkgs = env["packages"]
    assert "python3-ipykernel" in pkgs and any(k.startswith("python3.11") for k in pkgs), pkgs
    want = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-ipykernel"],
                          capture_output=True, text=True).stdout
    assert pkgs["python3-ipykernel"] == want
    files = {f["path"]: f for f in env["files"]}
    assert any(f.get("package", "").startswith("python3.11") for f in files.values()), files
    assert all(len(f["sha256"]) == 64 for f in files.values())
    # after which executions: b then a, in that kernel session
    after = c["after"]
    assert [x["cell_id"] for x in after[:2]] == ["b", "a"], after
    assert after[0]["id"] == cells["b"]["execution"]["id"]
    assert cells["a"]["after"] == [] or all(x["cell_id"] not in "abc" for x in cells["a"]["after"])
    assert cells["b"]["execution"]["previous"] == cells["a"]["execution"]["id"]
    # the record by id, with its outputs
    r = server.request("GET", "/api/cellgate/execution/" + e["id"])
    assert r.status_code == 200, r.text
    assert r.json()["outputs"] == nb.cell("c")["outputs"]


def test_default_version_is_the_checked_out_head(server, notebook):
    nb = notebook([("a", "print(1)")])
    nb.run("a")
    v = nb.save()
    assert prov(server, nb.path)["version"] == v


def test_edited_output_is_unrecorded(server, notebook):
    nb = notebook(CELLS)
    for cid in "abc":
        nb.run(cid)
    nb.save()
    nb.cell("b")["outputs"][0]["text"] = "x is 1000\n"
    v = nb.save()
    cells = by_id(prov(server, nb.path, v))
    assert cells["b"]["state"] == "unrecorded" and "execution" not in cells["b"]
    assert cells["a"]["state"] == cells["c"]["state"] == "recorded"


def test_never_run_cell_is_unexecuted(server, notebook):
    nb = notebook(CELLS)
    nb.run("a")
    v = nb.save()
    cells = by_id(prov(server, nb.path, v))
    assert cells["a"]["state"] == "recorded"
    assert cells["b"]["state"] == cells["c"]["state"] == "unexecuted"


def test_upstream_edit_makes_downstream_stale(server, notebook):
    nb = notebook(CELLS)
    for cid in "abc":
        nb.run(cid)
    v1 = nb.save()
    nb.cell("a")["source"] = "x = 0"
    v2 = nb.save()
    cells = by_id(prov(server, nb.path, v2))
    assert cells["a"]["stale"] and cells["b"]["stale"] and cells["c"]["stale"]
    why = cells["c"]["stale_because"]
    assert [w["cell_id"] for w in why] == ["a"] and why[0]["why"] == "the cell's source changed"
    # the first version is not stale: staleness is per version
    assert not any(c["stale"] for c in prov(server, nb.path, v1)["cells"])
    # editing only the last cell leaves the ones before it fresh
    nb.cell("a")["source"] = "x = 40"
    nb.cell("c")["source"] = "x + 2"
    cells = by_id(prov(server, nb.path, nb.save()))
    assert not cells["a"]["stale"] and not cells["b"]["stale"] and cells["c"]["stale"]


def test_out_of_order_chain(server, notebook):
    nb = notebook([("one", "y = 1"), ("two", "y = y * 10 + 2\ny")])
    # NameError; without stop_on_error, or ipykernel may abort the next
    # request if it arrives before it has finished handling the error
    assert nb.run("two", stop_on_error=False)["status"] == "error"
    assert nb.run("one")["status"] == "ok"
    assert nb.run("two")["status"] == "ok"
    v = nb.save()
    cells = by_id(prov(server, nb.path, v))
    two = cells["two"]
    assert two["state"] == "recorded" and two["execution"]["status"] == "ok"
    assert [x["cell_id"] for x in two["after"]] == ["one", "two"]
    assert two["after"][1]["status"] == "error"
    assert nb.cell("two")["outputs"][0]["data"]["text/plain"] == "12"


def test_restart_starts_a_new_chain(server, notebook):
    nb = notebook([("a", "z = 1"), ("b", "z = globals().get('z', 0) + 1\nz")])
    nb.run("a")
    r = server.request("POST", f"/api/kernels/{nb.kid}/restart")
    assert r.status_code == 200, r.text
    nb.ws.close()
    server.wait_kernel_ready(nb.kid)
    nb.ws = server.ws_connect(nb.kid)
    nb.run("b")
    cells = by_id(prov(server, nb.path, nb.save()))
    b = cells["b"]
    assert b["after"] == [] and b["execution"]["previous"] is None
    assert b["execution"]["kernel_session"] != cells["a"]["execution"]["kernel_session"]


def test_error_status_and_interrupt(server, notebook):
    nb = notebook([("e", "1/0")])
    reply = nb.run("e", stop_on_error=False)
    assert reply["status"] == "error"
    e = by_id(prov(server, nb.path, nb.save()))["e"]["execution"]
    assert e["status"] == "error" and e["error"]["ename"] == "ZeroDivisionError"


def send_execute(nb, cid):
    import json as _json
    msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "itest",
                      "session": nb.ws.session, "date": "", "version": "5.3"},
           "parent_header": {}, "metadata": {"cellId": cid},
           "content": {"code": nb.cell(cid)["source"], "silent": False, "store_history": True,
                       "user_expressions": {}, "allow_stdin": False, "stop_on_error": False},
           "channel": "shell", "buffers": []}
    nb.ws.send_raw(_json.dumps(msg))
    return msg["header"]["msg_id"]


def test_interrupted_status(server, notebook):
    from nbclient_ws import to_outputs
    nb = notebook([("s", "import time\ntime.sleep(60)")])
    mid = send_execute(nb, "s")
    _, seen = nb.ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_input"
                               and m["parent_header"].get("msg_id") == mid, 30)
    time.sleep(0.5)
    assert server.request("POST", f"/api/kernels/{nb.kid}/interrupt").status_code == 204
    _, more = nb.ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                               and m["parent_header"].get("msg_id") == mid
                               and m["content"]["execution_state"] == "idle", 30)
    cell = nb.cell("s")
    for m in seen + more:
        if m.get("parent_header", {}).get("msg_id") != mid or m.get("channel") == "shell":
            continue
        if m["header"]["msg_type"] == "execute_input":
            cell["execution_count"] = m["content"]["execution_count"]
        else:
            to_outputs(cell["outputs"], m)
    assert cell["outputs"] and cell["outputs"][-1]["ename"] == "KeyboardInterrupt"
    e = by_id(prov(server, nb.path, nb.save()))["s"]
    assert e["state"] == "recorded", e
    assert e["execution"]["status"] == "interrupted" and e["execution"]["error"]["ename"] == "KeyboardInterrupt"


def test_kernel_death_is_recorded(server, notebook):
    nb = notebook([("die", "import os\nos._exit(3)")])
    mid = send_execute(nb, "die")
    nb.ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                     and m["content"].get("execution_state") == "dead", 60)
    cells = by_id(prov(server, nb.path, nb.save()))
    e = cells["die"]["execution"]
    assert e["status"] == "kernel_died" and "exited with status 3" in e["reason"], e
    assert e["msg_id"] == mid


def test_hostile_request_metadata(server, notebook):
    """cellId of the wrong type or size, code that is not a string, a huge
    metadata object: recorded without a cell, and the server keeps serving."""
    import json as _json
    nb = notebook([("ok", "print('fine')")])
    bad = [{"cellId": 12}, {"cellId": "x" * 5000}, {"cellId": None}, {"cellId": {"a": [1]}},
           {"cellId": "ok", "junk": ["y" * 1000] * 1000}]
    for meta in bad:
        msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "x",
                          "session": nb.ws.session, "date": "", "version": "5.3"},
               "parent_header": {}, "metadata": meta,
               "content": {"code": "1", "silent": False, "store_history": False, "user_expressions": {},
                           "allow_stdin": False, "stop_on_error": False},
               "channel": "shell", "buffers": []}
        nb.ws.send_raw(_json.dumps(msg))
        nb.ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                         and m["parent_header"].get("msg_id") == msg["header"]["msg_id"], 30)
    # code that is not a string: the kernel refuses it, the record has no code
    msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "x",
                      "session": nb.ws.session, "date": "", "version": "5.3"},
           "parent_header": {}, "metadata": {"cellId": "weird"},
           "content": {"code": ["not", "a", "string"], "silent": False},
           "channel": "shell", "buffers": []}
    nb.ws.send_raw(_json.dumps(msg))
    nb.run("ok")
    assert server.alive()
    cells = by_id(prov(server, nb.path, nb.save()))
    assert cells["ok"]["state"] == "recorded"
    st = server.request("GET", "/api/status").json()["recorder"]
    assert st["failed"] == 0


def test_imported_notebook_is_unrecorded(server):
    path = new_path()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"id": "u", "cell_type": "code", "source": "1", "metadata": {},
                     "execution_count": 1,
                     "outputs": [{"output_type": "execute_result", "execution_count": 1,
                                  "data": {"text/plain": "1"}, "metadata": {}}]},
                    {"id": "m", "cell_type": "markdown", "source": "# hi", "metadata": {}}]}
    import json
    with open(os.path.join(server.workspace, path), "w") as f:
        json.dump(nb, f)
    p = prov(server, path)
    assert [c["state"] for c in p["cells"]] == ["unrecorded"]  # markdown cells have none


def test_bad_requests(server):
    for path, status in [("provenance/", (400, 404)), ("provenance/nope.ipynb", 404),
                         ("provenance/x.ipynb?version=zz", 400),
                         ("provenance/.hidden.ipynb", (400, 403, 404)),
                         ("provenance/%2e%2e/etc/passwd", (400, 404)),
                         ("execution/zz", 400), ("execution/" + "0" * 32, 404)]:
        r = server.request("GET", "/api/cellgate/" + path)
        assert_json_error(server, r, status)
    # a version that does not exist
    r = server.request("GET", "/api/cellgate/provenance/a.ipynb", params={"version": "0" * 32})
    assert_json_error(server, r, 404)


def test_cli_log_cells(server, notebook):
    nb = notebook(CELLS)
    for cid in "abc":
        nb.run(cid)
    v = nb.save()
    nb.cell("a")["source"] = "x = 1"
    nb.save()
    out = subprocess.run([server.bin if hasattr(server, "bin") else os.environ.get("CELLGATE_BIN", "bin/cellgate"),
                          "log", "--cells", nb.path, "--state", server.state],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(ln.startswith("c ") and "stale" in ln for ln in lines), out.stdout
    out = subprocess.run([os.environ.get("CELLGATE_BIN", "bin/cellgate"), "log", "--cells", nb.path,
                          "--version", v, "--state", server.state, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json
    p = json.loads(out.stdout)
    assert p["version"] == v and [c["state"] for c in p["cells"]] == ["recorded"] * 3
