"""Hostile input for the contents endpoints the other files do not cover
(checkpoints) and for cellgate's /api/cellgate/ routes: traversal in paths,
forged ids, malformed and oversized bodies, symlinks out of the workspace,
no token. Every refusal is a JSON {"message", "reason"} with a 4xx, nothing
is read or written outside the workspace, and the server keeps serving.
"""
import json
import os
import uuid

import pytest
import requests

from test_api import assert_json_error
from test_versions import cg, contents, fresh_dir, make_nb, save, version_of

TRAVERSAL = ["../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc%2fpasswd",
             "a/..%2f..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd", "x%00.ipynb", "..%5c..%5cx.ipynb",
             ".hidden.ipynb"]


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def nothing_outside(server):
    parent = os.path.dirname(server.workspace)
    for name in ("x.ipynb", "passwd", "pwned"):
        assert not os.path.exists(os.path.join(parent, name))
    assert not os.path.exists("/etc/pwned")


@pytest.mark.parametrize("path", TRAVERSAL)
@pytest.mark.parametrize("method,suffix", [("GET", "/checkpoints"), ("POST", "/checkpoints"),
                                           ("POST", "/checkpoints/checkpoint"),
                                           ("DELETE", "/checkpoints/checkpoint"),
                                           ("POST", "/checkpoints/" + "0" * 32)])
def test_checkpoint_routes_refuse_traversal(server, path, method, suffix):
    try:
        st, h, data = server.raw_request(method, "/api/contents/" + path + suffix)
    except ConnectionError:
        return  # closing the connection is a refusal too
    # a GET of the checkpoints of nothing is an empty list in Jupyter; 1.23
    # fails on a NUL or an encoded slash with a 500
    assert st in (400, 403, 404, 405) or (st == 200 and data == b"[]") or \
        (server.reference and st == 500), (st, data[:300])
    assert b"root:" not in data
    if st >= 400 and not server.reference:
        body = json.loads(data)
        assert set(body) >= {"message", "reason"}
    nothing_outside(server)


@pytest.mark.cellgate_only(reason="cellgate's checkpoint ids are version ids; status codes")
def test_forged_checkpoint_ids(server):
    d = fresh_dir(server)
    p = f"{d}/cp.ipynb"
    v = version_of(save(server, p, make_nb(1)))
    contents(server, "PUT", f"{d}/t.txt", json={"type": "file", "format": "text", "content": "t"})
    for target in (p, f"{d}/t.txt"):
        # (a trailing %00 is dropped by lws, and one inside the path closes
        # the connection; ".." as an id is a dot segment lws resolves, as a
        # browser would, to the file itself: test_contents' traversal cases
        # cover those)
        for bad in ("0" * 32, v.upper(), v[:-1], "x" * 5000, "'%20OR%201=1%20--", "a%2fb", "%3b",
                    "checkpoint%20", "x%0ay"):
            for method in ("POST", "DELETE"):
                try:
                    st, h, data = server.raw_request(method, f"/api/contents/{target}/checkpoints/{bad}")
                except ConnectionError:
                    continue
                assert st in (400, 403, 404, 405), (target, bad, method, st, data[:200])
                assert set(json.loads(data)) >= {"message", "reason"}
    # the real ones still work
    assert [c["id"] for c in contents(server, "GET", f"{p}/checkpoints").json()] == [v]


@pytest.mark.cellgate_only(reason="the reference follows symlinks out of its root")
def test_checkpoints_never_go_through_a_symlink_out(server):
    d = fresh_dir(server)
    out = os.path.join(server.tmp, "outside-" + uuid.uuid4().hex[:6])
    os.makedirs(out)
    secret = os.path.join(out, "secret.ipynb")
    with open(secret, "w") as f:
        json.dump(make_nb(1), f)
    os.symlink(secret, os.path.join(server.workspace, d, "link.ipynb"))
    for method, suffix in (("POST", "/checkpoints"), ("GET", "/checkpoints")):
        r = contents(server, method, f"{d}/link.ipynb{suffix}")
        assert r.status_code in (200, 403, 404) and (r.status_code != 200 or r.json() == []), r.text
    # a checkpoint taken, then the file swapped for a symlink out: a restore
    # must not write through it
    t = f"{d}/t.txt"
    contents(server, "PUT", t, json={"type": "file", "format": "text", "content": "mine"})
    assert contents(server, "POST", f"{t}/checkpoints").status_code == 201
    target = os.path.join(out, "victim.txt")
    with open(target, "w") as f:
        f.write("victim")
    os.remove(os.path.join(server.workspace, t))
    os.symlink(target, os.path.join(server.workspace, t))
    r = contents(server, "POST", f"{t}/checkpoints/checkpoint")
    with open(target) as f:
        assert f.read() == "victim"
    assert r.status_code in (204, 400, 403, 404), r.text
    # the same for a notebook and its version checkpoint
    n = f"{d}/n.ipynb"
    save(server, n, make_nb(2))
    cp = contents(server, "POST", f"{n}/checkpoints").json()["id"]
    victim_nb = os.path.join(out, "victim.ipynb")
    with open(victim_nb, "w") as f:
        f.write("victim")
    os.remove(os.path.join(server.workspace, n))
    os.symlink(victim_nb, os.path.join(server.workspace, n))
    r = contents(server, "POST", f"{n}/checkpoints/{cp}")
    with open(victim_nb) as f:
        assert f.read() == "victim"
    # the restore replaces the link itself (rename), never what it points at
    assert r.status_code == 204, r.text
    assert not os.path.islink(os.path.join(server.workspace, n))


@pytest.mark.cellgate_only(reason="cellgate's own API")
def test_cellgate_routes_refuse_malformed_bodies(server):
    d = fresh_dir(server)
    p = f"{d}/h.ipynb"
    v = version_of(save(server, p, make_nb(1)))
    for route in ("checkout/" + p, "branches/" + p):
        for raw in (b"{", b"[]", b"\"x\"", b"nul", b"{\"branch\": 5, \"name\": 5}", b"\xff\xfe",
                    b"{\"name\": \"" + b"x" * 100000 + b"\"}", b"[" * 5000 + b"]" * 5000):
            r = cg(server, "POST", route, data=raw, headers={"Content-Type": "application/json"})
            assert_json_error(server, r, (400, 404, 413))
    for body in ({"branch": "a" * 1000}, {"branch": ["main"]}, {"branch": None}, {"branch": "../main"}):
        assert_json_error(server, cg(server, "POST", "checkout/" + p, json=body), (400, 404))
    huge = b"{\"name\": \"" + b"x" * (300 << 20) + b"\"}"
    try:
        r = cg(server, "POST", "branches/" + p, data=huge, headers={"Content-Type": "application/json"})
        assert_json_error(server, r, 413)
    except requests.ConnectionError:
        pass  # refusing to read 300 MB is fine too
    for bad in ("from=" + v + "&to=", "from=&to=" + v, "from=" + v + "%00&to=" + v,
                "from=" + "x" * 5000 + "&to=" + v):
        try:
            r = server.request("GET", "/api/cellgate/diff?" + bad)
        except requests.ConnectionError:
            continue  # lws closes the connection on a NUL in the query: a refusal
        assert_json_error(server, r, (400, 404))
    # still whole
    assert [x["id"] for x in cg(server, "GET", "versions/" + p).json()["versions"]] == [v]


@pytest.mark.cellgate_only(reason="cellgate's own API")
def test_cellgate_routes_need_the_token(server):
    d = fresh_dir(server)
    p = f"{d}/tok.ipynb"
    v = version_of(save(server, p, make_nb(1)))
    for method, route in (("GET", "versions/" + p), ("GET", "version/" + v), ("GET", "branches/" + p),
                          ("POST", "branches/" + p), ("DELETE", "branches/" + p + "?name=main"),
                          ("POST", "checkout/" + p), ("GET", f"diff?from={v}&to={v}")):
        for token in (None, "wrong" * 10):
            r = server.request(method, "/api/cellgate/" + route, token=token, json={"name": "x", "branch": "main"})
            assert_json_error(server, r, 403)
    for method, suffix in (("GET", "/checkpoints"), ("POST", "/checkpoints"), ("POST", f"/checkpoints/{v}"),
                           ("DELETE", f"/checkpoints/{v}")):
        assert_json_error(server, contents(server, method, p + suffix, token=None), 403)
    assert [c["id"] for c in contents(server, "GET", f"{p}/checkpoints").json()] == [v]
