"""Replay: POST /api/cellgate/replays and `cellgate replay`.

A notebook executed through the server (as JupyterLab executes it) and
saved is replayed in fresh kernels of the recorded kernelspec, in the
`replay` sandbox (bubblewrap, read-only workspace snapshot), following the
recorded execution chain; each cell gets a verdict. The report is kept in
the store and served as JSON and as a self-contained HTML page.
"""
import json
import os
import socket
import subprocess
import time
import uuid

import pytest

from nbclient_ws import Notebook
from test_api import assert_json_error

pytestmark = pytest.mark.cellgate_only(reason="cellgate's replays")

BIN = os.environ.get("CELLGATE_BIN", "bin/cellgate")


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


@pytest.fixture
def notebook(server):
    made = []

    def make(cells, kernel="python3", path=None):
        nb = Notebook(server, path or f"replay-{uuid.uuid4().hex[:8]}.ipynb", cells, kernel=kernel)
        made.append(nb)
        return nb
    yield make
    for nb in made:
        nb.close()


def start(server, path, **body):
    r = server.request("POST", "/api/cellgate/replays", json={"path": path, **body})
    assert r.status_code == 202, r.text
    st = r.json()
    assert st["state"] in ("running", "done") and len(st["id"]) == 32
    return st["id"]


def wait(server, rid, timeout=180):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = server.request("GET", f"/api/cellgate/replays/{rid}")
        assert r.status_code == 200, r.text
        st = r.json()
        if st["state"] != "running":
            return st
        time.sleep(0.3)
    raise TimeoutError(f"replay {rid} still running")


def replay(server, path, **body):
    return wait(server, start(server, path, **body))


def verdicts(st):
    return {c["cell_id"]: c["verdict"] for c in st["report"]["cells"]}


def cli(server, *args):
    return subprocess.run([BIN, "replay", *args, "--state", server.state, "--root", server.workspace,
                           "--kernelspec-dir", server.kernelspec_dir],
                          capture_output=True, text=True, timeout=300)


DETERMINISTIC = [("a", "import math\nx = 40"), ("b", "x += 1\nprint('x is', x)"),
                 ("c", "{'x': x, 'pi': round(math.pi, 6)}"),
                 ("d", "from IPython.display import display, Markdown\ndisplay(Markdown('**%d**' % x))")]


def test_executed_notebook_replays_reproduced(server, notebook):
    nb = notebook(DETERMINISTIC)
    for cid in "abcd":
        assert nb.run(cid)["status"] == "ok"
    v = nb.save()
    st = replay(server, nb.path)
    assert st["state"] == "done" and st["version"] == v, st
    assert st["verdict"] == "reproduced", json.dumps(st["report"], indent=1)[:3000]
    assert verdicts(st) == dict.fromkeys("abcd", "reproduced")
    assert st["progress"] == {"done": 4, "total": 4}
    rep = st["report"]
    assert "replay" in rep["sandbox"] and "QEMU" in rep["sandbox"]
    assert rep["cells"][2]["replayed"] == nb.cell("c")["outputs"]
    # the HTML page: self-contained, sandboxed
    r = server.request("GET", f"/api/cellgate/replays/{st['id']}", params={"format": "html"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"].startswith("sandbox")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in r.text and "reproduced" in r.text and "x is 41" in r.text
    assert "http://" not in r.text and "https://" not in r.text
    # the CLI, for CI: exit 0
    p = cli(server, nb.path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "reproduced" in p.stdout
    p = cli(server, f"{nb.path}@{v}", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verdict"] == "reproduced"
    # for a capability token the CLI needs replay on the notebook, as the API does
    pol = os.path.join(server.tmp, "replay-policy.json")
    with open(pol, "w") as f:
        json.dump({"principals": {"rev": {"kind": "reviewer"}, "res": {"kind": "researcher"}}}, f)

    def token(principal, *caveats):
        args = [BIN, "token", "mint", "--principal", principal, "--policy", pol, "--state", server.state]
        for c in caveats:
            args += ["--caveat", c]
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    p = cli(server, nb.path, "--token", token("res"), "--policy", pol)
    assert p.returncode == 3 and "res needs replay on /" + nb.path in p.stderr, (p.returncode, p.stderr)
    p = cli(server, nb.path, "--token", token("rev", "path=elsewhere"), "--policy", pol)
    assert p.returncode == 3 and "the token allows path elsewhere only" in p.stderr, p.stderr
    p = cli(server, f"{nb.path}@{v}", "--token", token("rev"), "--policy", pol, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verdict"] == "reproduced"


def test_edited_output_differs(server, notebook):
    nb = notebook(DETERMINISTIC[:3])
    for cid in "abc":
        nb.run(cid)
    nb.save()
    nb.cell("b")["outputs"][0]["text"] = "x is 1000\n"
    v = nb.save()
    st = replay(server, nb.path, version=v)
    assert st["verdict"] == "not_reproduced"
    assert verdicts(st) == {"a": "reproduced", "b": "differs", "c": "reproduced"}
    b = st["report"]["cells"][1]
    assert b["diff"][0]["field"] == "text"
    assert b["diff"][0]["recorded"] == "x is 1000\n" and b["diff"][0]["replayed"] == "x is 41\n"
    p = cli(server, f"{nb.path}@{v}")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "differs" in p.stdout and "x is 1000" in p.stdout
    # the report is stored, linked to the version, and outlives the job in memory
    p2 = cli(server, f"{nb.path}@{v}", "--html", os.path.join(server.tmp, "r.html"))
    assert p2.returncode == 1
    with open(os.path.join(server.tmp, "r.html")) as f:
        page = f.read()
    assert "x is 1000" in page and "differs" in page
    # every report of the version, the server's and the CLI's, in the store
    r = server.request("GET", "/api/cellgate/replays", params={"version": v})
    assert r.status_code == 200, r.text
    kept = r.json()["replays"]
    assert len(kept) == 3 and kept[0]["id"] == st["id"]
    assert {k["verdict"] for k in kept} == {"not_reproduced"}
    assert_json_error(server, server.request("GET", "/api/cellgate/replays", params={"version": "x"}), 400)


def test_replay_runs_the_recorded_code(server, notebook):
    nb = notebook(DETERMINISTIC[:3])
    for cid in "abc":
        nb.run(cid)
    nb.save()
    # the source is edited but not run again: the outputs are those of the old code
    nb.cell("a")["source"] = "import math\nx = 0"
    nb.save()
    st = replay(server, nb.path)
    assert verdicts(st) == dict.fromkeys("abc", "reproduced"), st["report"]
    a = st["report"]["cells"][0]
    assert a["source_changed"] and a["code"] == "import math\nx = 40"
    assert "source_changed" not in st["report"]["cells"][1]


def test_out_of_order_chain_replays_in_recorded_order(server, notebook):
    # in notebook order this gives 100 then 200; as run (2, 1, 2) it gives 7, 8, 16
    nb = notebook([("one", "y = y + 1 if 'y' in globals() else 100"),
                   ("two", "y = y * 2 if 'y' in globals() else 7\ny")])
    nb.run("two")
    nb.run("one")
    nb.run("two")
    assert nb.cell("two")["outputs"][0]["data"]["text/plain"] == "16"
    nb.save()
    st = replay(server, nb.path)
    assert verdicts(st) == {"one": "reproduced", "two": "reproduced"}, st["report"]
    assert st["progress"]["total"] == 3
    assert st["report"]["cells"][1]["replayed"][0]["data"]["text/plain"] == "16"


def test_nondeterministic_cell_is_flagged_and_masks_hold(server, notebook):
    nb = notebook([("addr", "print(object())"),
                   ("when", "import datetime; print(datetime.datetime.now().isoformat())"),
                   ("dur", "print('took %.4f s' % (0.0001 + __import__('random').random()))"),
                   ("rand", "import random; random.random()")])
    for cid in ("addr", "when", "dur", "rand"):
        nb.run(cid)
    nb.save()
    st = replay(server, nb.path)
    v = verdicts(st)
    assert v["addr"] == v["when"] == v["dur"] == "reproduced", st["report"]
    assert v["rand"] == "differs"
    # without the masks the address differs too
    st = replay(server, nb.path, compare={"mask_addresses": False})
    assert verdicts(st)["addr"] == "differs"
    # a reviewer's own mask and a numeric tolerance
    st = replay(server, nb.path, compare={"masks": ["0[.][0-9]+"]})
    assert verdicts(st)["rand"] == "reproduced"
    st = replay(server, nb.path, compare={"abs_tol": 1.0})
    assert verdicts(st)["rand"] == "reproduced"


def test_replay_sandbox_has_a_read_only_snapshot(server, notebook):
    name = f"w-{uuid.uuid4().hex[:6]}.txt"
    nb = notebook([("w", f"open({name!r}, 'w').write('x')\nprint('wrote')")])
    nb.run("w")
    nb.save()
    assert os.path.exists(os.path.join(server.workspace, name))
    os.unlink(os.path.join(server.workspace, name))
    st = replay(server, nb.path)
    c = st["report"]["cells"][0]
    assert c["verdict"] == "error", c
    assert any("Read-only file system" in json.dumps(o) for o in c["replayed"]), c["replayed"]
    assert not os.path.exists(os.path.join(server.workspace, name))


def test_cancel_and_disconnect(server, notebook):
    nb = notebook([("s", "import time; time.sleep(2); print('slept')")])
    nb.run("s")
    nb.save()
    # the client that asked goes away at once: the job is the server's
    body = json.dumps({"path": nb.path}).encode()
    with socket.create_connection((server.host, server.port)) as s:
        s.sendall(b"POST /api/cellgate/replays HTTP/1.1\r\nHost: %s:%d\r\n"
                  b"Authorization: token %s\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (server.host.encode(), server.port,
                                                     server.token.encode(), len(body), body))
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert b" 202 " in data.split(b"\r\n", 1)[0], data
    rid = json.loads(data.split(b"\r\n\r\n", 1)[1])["id"]
    st = wait(server, rid)
    assert st["verdict"] == "reproduced", st
    # a running job can be cancelled, once
    rid = start(server, nb.path)
    r = server.request("DELETE", f"/api/cellgate/replays/{rid}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    assert_json_error(server, server.request("DELETE", f"/api/cellgate/replays/{rid}"), 409)
    assert wait(server, rid)["state"] == "cancelled"


def test_unrecorded_cells(server):
    path = f"replay-{uuid.uuid4().hex[:8]}.ipynb"
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"id": "u", "cell_type": "code", "source": "1", "metadata": {}, "execution_count": 1,
                     "outputs": [{"output_type": "execute_result", "execution_count": 1,
                                  "data": {"text/plain": "1"}, "metadata": {}}]},
                    {"id": "n", "cell_type": "code", "source": "2", "metadata": {},
                     "execution_count": None, "outputs": []}]}
    r = server.request("PUT", "/api/contents/" + path, json={"type": "notebook", "content": nb})
    assert r.status_code == 201, r.text
    st = replay(server, path)
    assert verdicts(st) == {"u": "unrecorded", "n": "skipped"}
    assert st["verdict"] == "not_reproduced"


def test_pari_kernel_replays(server, notebook):
    if not server.install_native("pari"):
        pytest.skip("the pari kernelspec is not built (make)")
    nb = notebook([("f", "f(n) = n^2 + 1"), ("v", "vector(5, i, f(i))"), ("p", "factor(2^64+1)")],
                  kernel="pari")
    for cid in "fvp":
        assert nb.run(cid)["status"] == "ok"
    nb.save()
    st = replay(server, nb.path)
    assert verdicts(st) == dict.fromkeys("fvp", "reproduced"), st["report"]
    p = server.request("GET", "/api/cellgate/provenance/" + nb.path).json()
    s = p["cells"][0]["execution"]["session"]
    assert s["kernelspec"] == "pari" and s["environment"]["files"][0]["sha256"]


def test_bad_replay_requests(server, notebook):
    for body, status in [({}, 400), ({"path": 3}, 400), ({"path": "nope.ipynb"}, 404),
                         ({"path": "a.ipynb", "version": "zz"}, 400),
                         ({"path": "a.ipynb", "version": "0" * 32}, 404),
                         ({"path": "a.ipynb", "branch": "../x"}, 400),
                         ({"path": "../x.ipynb"}, (400, 404)),
                         ({"path": "a.ipynb", "timeout": -1}, 400)]:
        r = server.request("POST", "/api/cellgate/replays", json=body)
        assert_json_error(server, r, status)
    r = server.request("POST", "/api/cellgate/replays", data=b"{not json",
                       headers={"Content-Type": "application/json"})
    assert_json_error(server, r, 400)
    nb = notebook([("a", "1")])
    nb.run("a")
    nb.save()
    for compare in [{"masks": ["("]}, {"masks": "x"}, {"rel_tol": -1}, {"mask_addresses": 1}, []]:
        r = server.request("POST", "/api/cellgate/replays", json={"path": nb.path, "compare": compare})
        assert_json_error(server, r, 400)
    for path, status in [("zz", 400), ("0" * 32, 404), ("0" * 32 + "?format=pdf", 400)]:
        assert_json_error(server, server.request("GET", "/api/cellgate/replays/" + path), status)
    assert_json_error(server, server.request("DELETE", "/api/cellgate/replays/" + "0" * 32), 404)
