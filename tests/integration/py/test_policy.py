"""Capability tokens against a real server started with --policy.

The permission matrix: for every route of server/routes.c (the test parses
the table, so a route added without a case here fails) and every method
it takes, a token holding exactly the needed action (narrowed to the
route's path and kernelspec where it has them) is not refused, and tokens
that lack the action, have expired, were tampered with (one character
changed), or were attenuated past it get 403 with a message naming what is
missing; a token that lacks the action cannot widen itself by attenuating.

Tokens are attenuated here, in Python, from the chain's public algorithm
(no key needed): which is also a check that the format is what
docs/configuration.md says. Then: narrowed listings, the channels
WebSocket and max-executions, the audit log of it all, and `cellgate audit
verify` on a copy of the store with one entry changed, removed or moved.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import uuid

import pytest
import requests
import websocket

from conftest import REPO, REFERENCE, Server, cellgate_bin, execution_record, make_msg, run_server

pytestmark = pytest.mark.cellgate_only(reason="cellgate's capability tokens")

ACTIONS = ["read", "write", "execute", "replay", "approve", "publish", "admin"]

POLICY = {"principals": {
    # every action, everywhere: tokens for the matrix are narrowed from it
    "pat": {"kind": "researcher", "actions": ACTIONS},
    # an agent confined to one directory and one kernelspec
    "bot": {"kind": "agent", "paths": ["agentdir"], "kernelspecs": ["python3"]},
    # an agent whose executions a person approves
    "asker": {"kind": "agent", "ask": ["execute"], "paths": ["m", "askdir"]},
    # may approve, and must ask for its own writes
    "selfish": {"kind": "researcher", "actions": ["read", "write", "approve"], "ask": ["write"]},
}}


# ------------------------------------------------------------------ tokens

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def decode(token):
    assert token.startswith("cg1.")
    b = b64d(token[4:])
    assert b[0] == 1
    n = int.from_bytes(b[1:3], "big")
    ident = b[3:3 + n].decode()
    pos = 3 + n
    count = b[pos]
    pos += 1
    caveats = []
    for _ in range(count):
        n = int.from_bytes(b[pos:pos + 2], "big")
        caveats.append(b[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    sig = b[pos:]
    assert len(sig) == 32
    return ident, caveats, sig


def encode(ident, caveats, sig):
    out = bytes([1]) + len(ident).to_bytes(2, "big") + ident.encode() + bytes([len(caveats)])
    for c in caveats:
        out += len(c).to_bytes(2, "big") + c.encode()
    return "cg1." + b64e(out + sig)


def attenuate(token, *new):
    """Offline: sig' = HMAC-SHA256(sig, caveat) for each new caveat."""
    ident, caveats, sig = decode(token)
    for c in new:
        sig = hmac.new(sig, c.encode(), hashlib.sha256).digest()
    return encode(ident, caveats + list(new), sig)


def tamper(token):
    """One character changed, to another base64url character."""
    i = len(token) // 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    c = alphabet[(alphabet.index(token[i]) + 7) % 64]
    return token[:i] + c + token[i + 1:]


def cli(server, *args, check=True, input=None):
    p = subprocess.run([cellgate_bin(), *args, "--state", server.state], capture_output=True,
                       timeout=60, input=input)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stderr.decode())
    return p


def mint(server, principal, *caveats):
    args = ["token", "mint", "--principal", principal, "--policy", server.policy_file]
    for c in caveats:
        args += ["--caveat", c]
    return cli(server, *args).stdout.decode().strip()


# ------------------------------------------------------------------ the server

@pytest.fixture(scope="module")
def pserver():
    s = Server(REFERENCE)
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    # publications are decided without a prompt here, so the matrix leaves
    # no pending prompt of pat's behind (test_publications.py has the prompts)
    s.extra_args += ["--policy", s.policy_file, "--publish-approval", "allow"]
    yield from run_server(s)


@pytest.fixture(scope="module")
def pat(pserver):
    pserver.asker = mint(pserver, "asker")
    return mint(pserver, "pat")


def root(server, method, path, **kw):
    r = server.request(method, path, **kw)
    assert r.status_code < 400, (method, path, r.status_code, r.text)
    return r


def kernel_for(server, path="m"):
    r = root(server, "POST", "/api/kernels", json={"name": "python3", "path": path})
    kid = r.json()["id"]
    server._kernels.add(kid)
    return kid


def session_for(server, path):
    r = root(server, "POST", "/api/sessions",
             json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
    server._kernels.add(r.json()["kernel"]["id"])
    return r.json()["id"]


@pytest.fixture(scope="module")
def world(pserver):
    """What the matrix acts on: a directory m/ with a notebook of two
    versions, a kernel and a session for m/."""
    w = {}
    root(pserver, "PUT", "/api/contents/m", json={"type": "directory"})
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"id": "c0", "cell_type": "code", "source": "1", "metadata": {}, "outputs": [],
         "execution_count": None}]}
    r1 = root(pserver, "PUT", "/api/contents/m/n.ipynb", json={"type": "notebook", "content": nb})
    nb["cells"][0]["source"] = "2"
    r2 = root(pserver, "PUT", "/api/contents/m/n.ipynb", json={"type": "notebook", "content": nb})
    w["v1"], w["v2"] = r1.headers["X-Cellgate-Version"], r2.headers["X-Cellgate-Version"]
    w["branch"] = root(pserver, "GET", "/api/cellgate/branches/m/n.ipynb").json()["checked_out"]
    w["kernel"] = kernel_for(pserver, "m")
    w["session"] = session_for(pserver, "m/s.ipynb")
    return w


# ------------------------------------------------------------------ the matrix

def fresh_kernel(s, w):
    return {"id": kernel_for(s, "m")}


def fresh_session(s, w):
    return {"id": session_for(s, f"m/s-{uuid.uuid4().hex[:6]}.ipynb")}


def fresh_file(s, w):
    name = f"m/f-{uuid.uuid4().hex[:6]}.txt"
    root(s, "PUT", "/api/contents/" + name, json={"type": "file", "format": "text", "content": "x"})
    return {"file": name}


def fresh_branch(s, w):
    b = "b" + uuid.uuid4().hex[:6]
    root(s, "POST", "/api/cellgate/branches/m/n.ipynb", json={"name": b})
    return {"branch": b}


def nothing(s, w):
    return {}


def fresh_prompt(s, w):
    """A pending prompt of the asker's, about m/."""
    r = s.request("POST", "/api/kernels", token=s.asker, json={"name": "python3", "path": "m"})
    assert r.status_code == 202, (r.status_code, r.text)
    return {"prompt": r.json()["prompt"]["id"]}


def uniq(s, w):
    return {"u": uuid.uuid4().hex[:6]}


def recorded(s, w):
    """m/p.ipynb executed and saved through the server (its token), once:
    its version, an execution record of it and a replay of it."""
    if "exec" not in w:
        from nbclient_ws import Notebook
        nb = Notebook(s, "m/p.ipynb", [("a", "1 + 1")])
        try:
            nb.run("a")
            w["pv"] = nb.save()
        finally:
            nb.close()
        p = root(s, "GET", "/api/cellgate/provenance/m/p.ipynb").json()
        w["exec"] = p["cells"][0]["execution"]["id"]
        w["replay"] = root(s, "POST", "/api/cellgate/replays", json={"path": "m/p.ipynb"}).json()["id"]
    return {k: w[k] for k in ("pv", "exec", "replay")}


def fresh_secret(s, w):
    name = "S_" + uuid.uuid4().hex[:6]
    root(s, "PUT", f"/api/cellgate/secrets/{name}", json={"value": "matrix-value"})
    return {"secret": name}


def fresh_replay(s, w):
    recorded(s, w)
    return {"id": root(s, "POST", "/api/cellgate/replays", json={"path": "m/p.ipynb"}).json()["id"]}


def published(s, w):
    """m/n.ipynb's second version, published by the server's token, once."""
    if "publication" not in w:
        w["publication"] = root(s, "POST", "/api/cellgate/publications",
                                json={"path": "m/n.ipynb", "version": w["v2"]}).json()["id"]
    return {"publication": w["publication"]}


# (method, route pattern, url, json body, action, resource path, kernelspec, setup)
# "any" is a route any valid token may use. {x} in url and body come from
# the world fixture and the case's setup.
CASES = [
    ("GET", "/api", "/api", None, "any", None, None, nothing),
    ("GET", "/api/status", "/api/status", None, "read", None, None, nothing),
    ("GET", "/api/me", "/api/me", None, "any", None, None, nothing),
    ("GET", "/api/kernelspecs", "/api/kernelspecs", None, "read", None, None, nothing),
    ("GET", "/api/kernelspecs/{name}", "/api/kernelspecs/python3", None, "read", None, "python3",
     nothing),
    ("GET", "/kernelspecs/{name}/{file}", "/kernelspecs/python3/logo-64x64.png", None, "read", None,
     "python3", nothing),
    ("GET", "/api/kernels", "/api/kernels", None, "read", None, None, nothing),
    ("POST", "/api/kernels", "/api/kernels", {"name": "python3", "path": "m"}, "execute", "m",
     "python3", nothing),
    ("GET", "/api/kernels/{id}", "/api/kernels/{kernel}", None, "read", "m", "python3", nothing),
    ("DELETE", "/api/kernels/{id}", "/api/kernels/{id}", None, "execute", "m", "python3",
     fresh_kernel),
    ("POST", "/api/kernels/{id}/interrupt", "/api/kernels/{kernel}/interrupt", None, "execute",
     "m", "python3", nothing),
    ("POST", "/api/kernels/{id}/restart", "/api/kernels/{id}/restart", None, "execute", "m",
     "python3", fresh_kernel),
    ("GET", "/api/kernels/{id}/channels", "/api/kernels/{kernel}/channels", None, "execute", "m",
     "python3", nothing),
    ("GET", "/api/sessions", "/api/sessions", None, "read", None, None, nothing),
    ("POST", "/api/sessions", "/api/sessions",
     {"path": "m/new-{u}.ipynb", "type": "notebook", "kernel": {"name": "python3"}}, "execute",
     "m", "python3", uniq),
    ("GET", "/api/sessions/{id}", "/api/sessions/{session}", None, "read", "m", None, nothing),
    ("PATCH", "/api/sessions/{id}", "/api/sessions/{session}", {"name": "renamed"}, "execute", "m",
     None, nothing),
    ("DELETE", "/api/sessions/{id}", "/api/sessions/{id}", None, "execute", "m", None,
     fresh_session),
    ("GET", "/api/contents", "/api/contents", None, "read", None, None, nothing),
    ("PUT", "/api/contents", "/api/contents", {"type": "directory"}, "write", None, None, nothing),
    ("POST", "/api/contents", "/api/contents", {"type": "file", "ext": ".txt"}, "write", None, None,
     nothing),
    ("PATCH", "/api/contents", "/api/contents", {"path": "x"}, "write", None, None, nothing),
    ("DELETE", "/api/contents", "/api/contents", None, "write", None, None, nothing),
    ("GET", "/api/contents/{path*}", "/api/contents/m/n.ipynb", None, "read", "m", None, nothing),
    ("PUT", "/api/contents/{path*}", "/api/contents/m/w-{u}.txt",
     {"type": "file", "format": "text", "content": "w"}, "write", "m", None, uniq),
    ("POST", "/api/contents/{path*}", "/api/contents/m", {"type": "file", "ext": ".txt"}, "write",
     "m", None, nothing),
    ("PATCH", "/api/contents/{path*}", "/api/contents/{file}", {"path": "m/renamed-{u}.txt"},
     "write", "m", None, lambda s, w: {**fresh_file(s, w), **uniq(s, w)}),
    ("DELETE", "/api/contents/{path*}", "/api/contents/{file}", None, "write", "m", None,
     fresh_file),
    ("GET", "/api/cellgate/versions/{path*}", "/api/cellgate/versions/m/n.ipynb", None, "read",
     "m", None, nothing),
    ("GET", "/api/cellgate/version/{id}", "/api/cellgate/version/{v1}", None, "read", "m", None,
     nothing),
    ("GET", "/api/cellgate/branches/{path*}", "/api/cellgate/branches/m/n.ipynb", None, "read",
     "m", None, nothing),
    ("POST", "/api/cellgate/branches/{path*}", "/api/cellgate/branches/m/n.ipynb",
     {"name": "nb-{u}"}, "write", "m", None, uniq),
    ("DELETE", "/api/cellgate/branches/{path*}", "/api/cellgate/branches/m/n.ipynb?name={branch}",
     None, "write", "m", None, fresh_branch),
    ("POST", "/api/cellgate/checkout/{path*}", "/api/cellgate/checkout/m/n.ipynb",
     {"branch": "{branch}"}, "write", "m", None, nothing),
    ("GET", "/api/cellgate/diff", "/api/cellgate/diff?from={v1}&to={v2}", None, "read", "m", None,
     nothing),
    ("GET", "/api/cellgate/prompts", "/api/cellgate/prompts", None, "any", None, None, nothing),
    ("GET", "/api/cellgate/prompts/{id}", "/api/cellgate/prompts/{prompt}", None, "any", None,
     None, fresh_prompt),
    ("POST", "/api/cellgate/prompts/{id}", "/api/cellgate/prompts/{prompt}", {"answer": "deny"},
     "approve", "m", None, fresh_prompt),
    # a stream: ?duration= ends it, so the matrix can read it whole
    ("GET", "/api/cellgate/events", "/api/cellgate/events?duration=1", None, "any", None, None,
     nothing),
    ("GET", "/api/cellgate/egress", "/api/cellgate/egress?kernel={kernel}", None, "read", "m",
     "python3", nothing),
    ("GET", "/api/events/subscribe", "/api/events/subscribe", None, "any", None, None, nothing),
    ("GET", "/files/{path*}", "/files/m/n.ipynb", None, "read", "m", None, nothing),
    ("GET", "/api/nbconvert", "/api/nbconvert", None, "any", None, None, nothing),
    ("GET", "/", "/", None, "any", None, None, nothing),
    ("GET", "/lab", "/lab", None, "any", None, None, nothing),
    ("GET", "/lab/tree", "/lab/tree", None, "any", None, None, nothing),
    ("GET", "/lab/tree/{path*}", "/lab/tree/m/n.ipynb", None, "any", None, None, nothing),
    ("GET", "/lab/doc/tree/{path*}", "/lab/doc/tree/m/n.ipynb", None, "any", None, None,
     nothing),
    ("GET", "/lab/workspaces/{name}", "/lab/workspaces/w1", None, "any", None, None, nothing),
    ("GET", "/lab/workspaces/{name}/tree/{path*}", "/lab/workspaces/w1/tree/m/n.ipynb", None,
     "any", None, None, nothing),
    ("GET", "/lab/api/settings", "/lab/api/settings", None, "read", None, None, nothing),
    ("PUT", "/lab/api/settings", "/lab/api/settings", {"raw": "{}"}, "write", None, None,
     nothing),
    ("GET", "/lab/api/settings/{id*}",
     "/lab/api/settings/@jupyterlab/apputils-extension:themes", None, "read", None, None,
     nothing),
    ("PUT", "/lab/api/settings/{id*}",
     "/lab/api/settings/@jupyterlab/apputils-extension:themes", {"raw": "{}"}, "write", None,
     None, nothing),
    ("GET", "/lab/api/workspaces", "/lab/api/workspaces", None, "read", None, None, nothing),
    ("GET", "/lab/api/workspaces/{id}", "/lab/api/workspaces/w1", None, "read", None, None,
     nothing),
    ("PUT", "/lab/api/workspaces/{id}", "/lab/api/workspaces/w1",
     {"data": {}, "metadata": {"id": "w1"}}, "write", None, None, nothing),
    ("DELETE", "/lab/api/workspaces/{id}", "/lab/api/workspaces/w1", None, "write", None, None,
     nothing),
    ("GET", "/lab/api/translations", "/lab/api/translations", None, "any", None, None, nothing),
    ("GET", "/lab/api/translations/{locale}", "/lab/api/translations/en", None, "any", None,
     None, nothing),
    ("GET", "/api/cellgate/audit", "/api/cellgate/audit?limit=5", None, "admin", None, None,
     nothing),
    # secrets (test_secrets.py has the rest)
    ("GET", "/api/cellgate/secrets", "/api/cellgate/secrets", None, "admin", None, None, nothing),
    ("PUT", "/api/cellgate/secrets/{name}", "/api/cellgate/secrets/M_{u}", {"value": "v-{u}"},
     "admin", None, None, uniq),
    ("DELETE", "/api/cellgate/secrets/{name}", "/api/cellgate/secrets/{secret}", None, "admin",
     None, None, fresh_secret),
    ("GET", "/api/cellgate/provenance/{path*}", "/api/cellgate/provenance/m/n.ipynb", None, "read",
     "m", None, nothing),
    ("GET", "/api/cellgate/execution/{id}", "/api/cellgate/execution/{exec}", None, "read", "m",
     None, recorded),
    ("GET", "/api/cellgate/replays", "/api/cellgate/replays?version={pv}", None, "read", "m", None,
     recorded),
    ("POST", "/api/cellgate/replays", "/api/cellgate/replays", {"path": "m/p.ipynb"}, "replay", "m",
     None, recorded),
    ("GET", "/api/cellgate/replays/{id}", "/api/cellgate/replays/{replay}", None, "read", "m", None,
     recorded),
    ("DELETE", "/api/cellgate/replays/{id}", "/api/cellgate/replays/{id}", None, "replay", "m", None,
     fresh_replay),
    # publishing (with --publish-approval allow here: 201, once)
    ("GET", "/api/cellgate/publications", "/api/cellgate/publications", None, "read", None, None,
     nothing),
    ("POST", "/api/cellgate/publications", "/api/cellgate/publications",
     {"path": "m/n.ipynb", "version": "{v1}"}, "publish", "m", None, nothing),
    ("GET", "/api/cellgate/publications/{id}", "/api/cellgate/publications/{publication}", None,
     "read", "m", None, published),
]

def route_table(public=False):
    """{(method, pattern)} from server/routes.c; HEAD goes with GET. The
    routes that need a capability, or (public=True) those that need none."""
    with open(os.path.join(REPO, "server", "routes.c")) as f:
        src = f.read()
    macros = {"GET": ["GET"], "WRITES": ["PUT", "POST", "PATCH", "DELETE"], "HTTP_HEAD": []}
    out = set()
    for methods, pattern, rest in re.findall(r'\{\s*([A-Z_ |]+?),\s*"(/[^"]*)"([^}]*)\}', src):
        if ("ROUTE_PUBLIC" in rest) != public:
            continue
        for m in methods.split("|"):
            m = m.strip()
            for x in macros.get(m, [m.replace("HTTP_", "")]):
                out.add((x, pattern))
    return out


def test_matrix_covers_the_route_table():
    table = route_table()
    assert len(table) >= 28, table
    cases = {(c[0], c[1]) for c in CASES}
    assert table - cases == set(), "routes without a permission-matrix case"
    assert cases - table == set(), "cases for routes that do not exist"


def test_public_routes_are_only_the_login_form():
    """What answers without any credentials: the login form and logout, and
    the files the page's <script> and <link> load."""
    assert route_table(public=True) == {("GET", "/login"), ("POST", "/login"),
                                        ("GET", "/logout"),
                                        ("GET", "/static/lab/{path*}"),
                                        ("GET", "/lab/api/themes/{path*}")}


def fill(template, values):
    if template is None:
        return None
    text = json.dumps(template) if not isinstance(template, str) else template
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text if isinstance(template, str) else json.loads(text)


def exact_caveats(action, path, kspec):
    cav = [] if action == "any" else [f"action={action}"]
    if path:
        cav.append(f"path={path}")
    if kspec:
        cav.append(f"kernelspec={kspec}")
    return cav


def call(server, method, url, body, token):
    return server.request(method, url, token=token, json=body, timeout=120,
                          allow_redirects=False)


def assert_forbidden(r, what, action=None):
    # a page a browser loads leads to the login form when the token does
    # not verify (tampered, caveat removed), as in Jupyter Server
    if r.status_code == 302 and "/login?next=" in r.headers.get("location", ""):
        return
    assert r.status_code == 403, (what, r.status_code, r.text[:300])
    body = r.json()
    assert body["reason"] == "Forbidden", body
    if action:
        assert f"needs {action} on" in body["message"], (what, body)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_permission_matrix(pserver, world, pat, case):
    method, _, url_t, body_t, action, path, kspec, setup = case
    values = dict(world)
    values.update(setup(pserver, world))
    url, body = fill(url_t, values), fill(body_t, values)
    exact = attenuate(pat, *exact_caveats(action, path, kspec))

    if action != "any":
        others = [a for a in ACTIONS if a != action]
        lacking = attenuate(pat, "action=" + ",".join(others))
        assert_forbidden(call(pserver, method, url, body, lacking), "lacking", action)
        # an attenuated token cannot widen itself back
        widened = attenuate(lacking, "action=" + action)
        assert_forbidden(call(pserver, method, url, body, widened), "widened", action)
        # attenuated past what the route needs: another action only
        past = attenuate(exact, "action=" + others[0])
        assert_forbidden(call(pserver, method, url, body, past), "attenuated to another action")
    if path:
        elsewhere = attenuate(exact, "path=elsewhere")
        assert_forbidden(call(pserver, method, url, body, elsewhere), "attenuated to another path")
    if kspec:
        other = attenuate(exact, "kernelspec=gap")
        assert_forbidden(call(pserver, method, url, body, other), "attenuated to another kernelspec")
    expired = attenuate(exact, "expires=1")
    assert_forbidden(call(pserver, method, url, body, expired), "expired")
    assert_forbidden(call(pserver, method, url, body, tamper(exact)), "tampered")
    # caveats removed, keeping the signature: the chain breaks
    ident, caveats, sig = decode(exact)
    if caveats:
        assert_forbidden(call(pserver, method, url, body, encode(ident, caveats[:-1], sig)),
                         "caveat removed")

    r = call(pserver, method, url, body, exact)
    assert r.status_code != 403, (method, url, r.status_code, r.text[:300])
    assert r.status_code < 500, (method, url, r.status_code, r.text[:300])
    if r.status_code in (200, 201) and method == "POST" and url.startswith("/api/kernels") \
            and "id" in r.json():
        pserver._kernels.add(r.json()["id"])
    if method == "POST" and url == "/api/sessions" and r.status_code == 201:
        pserver._kernels.add(r.json()["kernel"]["id"])
    assert pserver.alive()


def test_query_token_and_cli_attenuation_agree(pserver, pat):
    """?token= works as the header does; the CLI attenuates as the algorithm says."""
    t = attenuate(pat, "action=read")
    r = requests.get(pserver.url + "/api/status", params={"token": t}, timeout=30)
    assert r.status_code == 200
    via_cli = cli(pserver, "token", "attenuate", "-", "--caveat", "action=read",
                  input=pat.encode()).stdout.decode().strip()
    assert via_cli == t
    inspected = json.loads(cli(pserver, "token", "inspect", t, "--verify", "--policy",
                               pserver.policy_file).stdout)
    assert inspected["principal"] == "pat" and inspected["caveats"] == ["action=read"]
    assert inspected["valid"] is True
    bad = cli(pserver, "token", "inspect", tamper(t), "--verify", "--policy", pserver.policy_file,
              check=False)
    assert bad.returncode != 0


def cookie_of(server):
    """The login cookie's name for this server (cookie.h)."""
    host = f"{server.host}:{server.port}"
    return "cellgate-" + "".join(c if c.isalnum() else "-" for c in host)


def test_capability_token_earns_its_own_cookie(pserver, world, pat):
    """A capability token in a page's URL (or the login form) gives the
    browser a cookie that carries that token: the browser's requests are
    exactly as narrow as the token, never root, and the cookie of an
    expired, tampered or foreign token is no credential."""
    name = cookie_of(pserver)
    t = attenuate(pat, "action=read", "path=m")
    s = requests.Session()
    r = s.get(pserver.url + "/lab", params={"token": t}, timeout=30, allow_redirects=False)
    assert r.status_code == 200
    cookie = s.cookies.get(name)
    assert cookie and cookie.startswith("2.") and t in cookie, r.headers
    assert "httponly" in r.headers["set-cookie"].lower()
    # the page holds no token when it came with the cookie
    r = s.get(pserver.url + "/lab", timeout=30, allow_redirects=False)
    assert r.status_code == 200 and '"token": ""' in r.text.replace('":""', '": ""')
    # with the cookie alone: reads inside the token's path, nothing else
    assert s.get(pserver.url + "/api/contents/m/n.ipynb", timeout=30).status_code == 200
    r = s.get(pserver.url + "/api/contents/agentdir", timeout=30)
    assert r.status_code == 403 and "the token allows path m only" in r.json()["message"], r.text
    me = s.get(pserver.url + "/api/me", timeout=30).json()
    assert me["identity"]["username"] == "pat", me
    # a write with the cookie needs the XSRF double submit, and then the token's action
    xsrf = s.cookies.get("_xsrf")
    body = {"type": "file", "format": "text", "content": "x"}
    r = s.put(pserver.url + "/api/contents/m/x.txt", json=body, timeout=30)
    assert r.status_code == 403 and "_xsrf" in r.json()["message"]
    r = s.put(pserver.url + "/api/contents/m/x.txt", json=body, headers={"X-XSRFToken": xsrf},
              timeout=30)
    assert r.status_code == 403 and "needs write" in r.json()["message"], r.text
    # the channels WebSocket with the cookie: the token has no execute
    ws_url = pserver.url.replace("http", "ws", 1) + f"/api/kernels/{world['kernel']}/channels"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(ws_url, header=[f"Cookie: {name}={cookie}"], timeout=30)
    assert e.value.status_code == 403
    # a changed byte in the cookie, or a valid token in a cookie this server did not sign
    for bad in (cookie[:-1] + ("0" if cookie[-1] != "0" else "1"),
                cookie.replace(t, attenuate(pat, "action=read", "path=m", "branch=x"))):
        r = requests.get(pserver.url + "/api/contents/m/n.ipynb", cookies={name: bad}, timeout=30)
        assert r.status_code == 403, bad
        r = requests.get(pserver.url + "/lab", cookies={name: bad}, timeout=30, allow_redirects=False)
        assert r.status_code == 302 and "/login?next=" in r.headers["location"]
    # an expired token's cookie is no credential: a page leads to the login form
    soon = attenuate(pat, "action=read", f"expires={int(time.time()) + 2}")
    s2 = requests.Session()
    assert s2.get(pserver.url + "/api/status", params={"token": soon}, timeout=30).status_code == 200
    assert s2.get(pserver.url + "/api/status", timeout=30).status_code == 200
    time.sleep(3)
    assert s2.get(pserver.url + "/api/status", timeout=30).status_code == 403
    r = s2.get(pserver.url + "/lab", timeout=30, allow_redirects=False)
    assert r.status_code == 302 and "/login?next=" in r.headers["location"]
    # the login form takes a capability token too
    s3 = requests.Session()
    s3.get(pserver.url + "/login", timeout=30)
    r = s3.post(pserver.url + "/login", data={"password": t, "_xsrf": s3.cookies.get("_xsrf")},
                allow_redirects=False, timeout=30)
    assert r.status_code == 302 and t in s3.cookies.get(name)
    assert s3.get(pserver.url + "/api/contents/m/n.ipynb", timeout=30).status_code == 200
    assert s3.get(pserver.url + "/api/contents/agentdir", timeout=30).status_code == 403
    r = s3.post(pserver.url + "/login", data={"password": soon, "_xsrf": s3.cookies.get("_xsrf")},
                allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "Invalid token" in r.text
    # the narrowed token is still narrowed when it comes in the query
    r = requests.put(pserver.url + "/api/contents/m/x.txt", params={"token": t}, timeout=30,
                     json=body)
    assert r.status_code == 403


def test_lab_settings_and_workspaces_are_each_principals_own(pserver, pat):
    """JupyterLab's settings and workspaces belong to whoever saves them: a
    principal's theme or layout is not the server token's, nor another
    principal's."""
    plugin = "@jupyterlab/apputils-extension:themes"
    url = pserver.url + f"/lab/api/settings/{plugin}"
    writer = attenuate(pat, "action=read,write")
    raw = '{"theme": "JupyterLab Dark"}'
    r = requests.put(url, json={"raw": raw}, headers={"Authorization": f"token {writer}"}, timeout=30)
    assert r.status_code == 204, r.text
    mine = requests.get(url, headers={"Authorization": f"token {pat}"}, timeout=30).json()
    assert mine["settings"] == {"theme": "JupyterLab Dark"}
    assert pserver.request("GET", f"/lab/api/settings/{plugin}").json()["settings"] == {}
    bot = mint(pserver, "bot")
    theirs = requests.get(url, headers={"Authorization": f"token {bot}"}, timeout=30).json()
    assert theirs["settings"] == {}
    # in the principal's own folder of the state directory
    assert os.path.exists(os.path.join(pserver.state, "lab", "principals", "p-pat", "user-settings",
                                       "@jupyterlab", "apputils-extension", "themes.jupyterlab-settings"))
    # workspaces the same
    ws = {"data": {"layout-restorer:data": {"main": {}}}, "metadata": {"id": "pats"}}
    wurl = pserver.url + "/lab/api/workspaces/pats"
    r = requests.put(wurl, json=ws, headers={"Authorization": f"token {writer}"}, timeout=30)
    assert r.status_code == 204, r.text
    got = requests.get(wurl, headers={"Authorization": f"token {pat}"}, timeout=30).json()
    assert got["data"] == ws["data"]
    assert "pats" not in pserver.request("GET", "/lab/api/workspaces").json()["workspaces"]["ids"]
    assert pserver.request("GET", "/lab/api/workspaces/pats").json()["data"] == {}
    # a token without write still may not save its own
    reader = attenuate(pat, "action=read")
    r = requests.put(url, json={"raw": "{}"}, headers={"Authorization": f"token {reader}"}, timeout=30)
    assert r.status_code == 403


SCOPE_PROBE = r"""
import os
def probe(path):
    try:
        with open(path) as f:
            return "read " + f.read()
    except OSError as e:
        return type(e).__name__
def write(path):
    try:
        with open(path, "w") as f:
            f.write("w")
        return "wrote"
    except OSError as e:
        return type(e).__name__
print(sorted(os.listdir({ws!r})), probe({ws!r} + "/agentdir/a.txt"),
      probe({ws!r} + "/m/secret.txt"), write({ws!r} + "/agentdir/k.txt"),
      write({ws!r} + "/elsewhere.txt"), sep="|")
"""


def scoped_kernel(server, token, path="agentdir"):
    r = server.request("POST", "/api/kernels", token=token, json={"name": "python3", "path": path})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    server._kernels.add(kid)
    server.wait_kernel_ready(kid, timeout=90)
    return kid


def test_kernel_sees_only_the_workspace_its_token_allows(pserver, pat):
    """A kernel started with a path-narrowed token runs in a sandbox whose
    workspace holds only those paths: read-write where the token may
    write, read-only where it may only read or execute; the rest of the
    workspace is not there, and writing outside fails."""
    root(pserver, "PUT", "/api/contents/agentdir", json={"type": "directory"})
    root(pserver, "PUT", "/api/contents/agentdir/a.txt",
         json={"type": "file", "format": "text", "content": "mine"})
    root(pserver, "PUT", "/api/contents/m", json={"type": "directory"})
    root(pserver, "PUT", "/api/contents/m/secret.txt",
         json={"type": "file", "format": "text", "content": "not yours"})
    code = SCOPE_PROBE.format(ws=pserver.workspace)
    # an agent confined to agentdir, without write: read-only there, nothing else
    bot = mint(pserver, "bot")
    kid = scoped_kernel(pserver, bot)
    model = pserver.request("GET", f"/api/kernels/{kid}").json()
    assert model["workspace_scope"] == ["ro:agentdir"], model
    ws = pserver.ws_connect(kid, token=bot)
    out = pserver.execute(kid, code, ws=ws, timeout=60).stdout.strip().split("|")
    ws.close()
    assert out == ["['agentdir']", "read mine", "FileNotFoundError", "OSError", "OSError"], out
    pserver.delete_kernel(kid)
    # a researcher's token narrowed to agentdir: read-write there
    t = attenuate(pat, "path=agentdir")
    kid = scoped_kernel(pserver, t)
    assert pserver.request("GET", f"/api/kernels/{kid}").json()["workspace_scope"] == ["rw:agentdir"]
    ws = pserver.ws_connect(kid, token=t)
    out = pserver.execute(kid, code, ws=ws, timeout=60).stdout.strip().split("|")
    ws.close()
    assert out == ["['agentdir']", "read mine", "FileNotFoundError", "wrote", "OSError"], out
    with open(os.path.join(pserver.workspace, "agentdir", "k.txt")) as f:
        assert f.read() == "w"
    assert not os.path.exists(os.path.join(pserver.workspace, "elsewhere.txt"))
    pserver.delete_kernel(kid)
    # the server's token: the whole workspace, as before
    kid = scoped_kernel(pserver, pserver.token)
    assert "workspace_scope" not in pserver.request("GET", f"/api/kernels/{kid}").json()
    out = pserver.execute(kid, code, timeout=60).stdout.strip().split("|")
    assert out[1:] == ["read mine", "read not yours", "wrote", "wrote"], out
    pserver.delete_kernel(kid)
    os.remove(os.path.join(pserver.workspace, "elsewhere.txt"))
    # the launch's audit entry says what the kernel sees
    entries = [json.loads(x) for x in cli(pserver, "audit", "log", "--json").stdout.splitlines()]
    launches = [e["detail"] for e in entries if e["decision"] == "launch"]
    assert any('workspace ["ro:agentdir"]' in d for d in launches), launches[-3:]


def test_checkpoints_are_their_file(pserver, world, pat):
    """A token for "m/n.ipynb/checkpoints" is not one for m/n.ipynb: restoring
    a checkpoint writes the file."""
    r = root(pserver, "POST", "/api/contents/m/n.ipynb/checkpoints")
    cp = r.json()["id"]
    odd = attenuate(pat, "action=write", "path=m/n.ipynb/checkpoints")
    assert_forbidden(pserver.request("POST", f"/api/contents/m/n.ipynb/checkpoints/{cp}", token=odd),
                     "checkpoint path", "write")
    ok = attenuate(pat, "action=write", "path=m/n.ipynb")
    r = pserver.request("POST", f"/api/contents/m/n.ipynb/checkpoints/{cp}", token=ok)
    assert r.status_code == 204, r.text
    # and the versions API is not a listing: a directory on the way is not readable there
    deep = attenuate(pat, "action=read", "path=m/n.ipynb")
    assert pserver.request("GET", "/api/contents/m", token=deep).status_code == 200
    assert_forbidden(pserver.request("GET", "/api/cellgate/versions/m", token=deep), "versions", "read")


def test_versions_name_the_principal(pserver, world, pat):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    r = pserver.request("PUT", "/api/contents/m/who.ipynb", token=attenuate(pat, "path=m"),
                        json={"type": "notebook", "content": nb})
    assert r.status_code == 201, r.text
    log = root(pserver, "GET", "/api/cellgate/versions/m/who.ipynb").json()["versions"]
    assert log[0]["principal"] == "pat"


def test_garbage_tokens_and_server_token(pserver):
    for t in ["cg1.", "cg1.!!!!", "cg1." + "A" * 5000, "cg1." + b64e(os.urandom(80))]:
        r = pserver.request("GET", "/api/status", token=t)
        assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    # the server's own token is still everything
    assert pserver.request("GET", "/api/contents/m").status_code == 200
    assert pserver.alive()


# ------------------------------------------------------------------ a narrowed world

def test_agent_sees_a_narrowed_world(pserver, world):
    root(pserver, "PUT", "/api/contents/agentdir", json={"type": "directory"})
    root(pserver, "PUT", "/api/contents/agentdir/a.txt",
         json={"type": "file", "format": "text", "content": "a"})
    bot = mint(pserver, "bot")
    top = pserver.request("GET", "/api/contents", token=bot).json()
    assert [e["path"] for e in top["content"]] == ["agentdir"]
    assert pserver.request("GET", "/api/contents/m", token=bot).status_code == 403
    assert pserver.request("GET", "/api/contents/agentdir/a.txt", token=bot).status_code == 200
    # an agent writes nothing, even in its own directory
    r = pserver.request("PUT", "/api/contents/agentdir/b.txt", token=bot,
                        json={"type": "file", "format": "text", "content": "b"})
    assert_forbidden(r, "agent write", "write")
    specs = pserver.request("GET", "/api/kernelspecs", token=bot).json()
    assert list(specs["kernelspecs"]) == ["python3"] and specs["default"] == "python3"
    # kernels and sessions of m/ are not in its world
    assert pserver.request("GET", "/api/kernels", token=bot).json() == []
    assert pserver.request("GET", "/api/sessions", token=bot).json() == []
    assert len(pserver.request("GET", "/api/kernels").json()) >= 1
    r = pserver.request("POST", "/api/kernels", token=bot, json={"name": "python3", "path": "m"})
    assert_forbidden(r, "kernel outside its path", "execute")


def execute(ws, code):
    msg = make_msg("execute_request", {"code": code, "silent": False}, ws.session)
    ws.send_raw(json.dumps(msg))
    mid = msg["header"]["msg_id"]
    m, _ = ws.recv_until(lambda m: m.get("msg_type", m["header"]["msg_type"]) == "execute_reply"
                         and m["parent_header"].get("msg_id") == mid, 60)
    return m["content"]


def test_channels_need_execute_and_count_executions(pserver, world, pat):
    kid = world["kernel"]
    reader = attenuate(pat, "action=read")
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        pserver.ws_connect(kid, token=reader)
    assert e.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        pserver.ws_connect(kid, token=attenuate(pat, "path=elsewhere"))
    assert e.value.status_code == 403

    limited = attenuate(pat, "action=execute", "max-executions=2")
    ws = pserver.ws_connect(kid, token=limited)
    try:
        assert execute(ws, "1")["status"] == "ok"
        # a narrower token made from it shares the count
        ws2 = pserver.ws_connect(kid, token=attenuate(limited, "kernelspec=python3"))
        try:
            assert execute(ws2, "2")["status"] == "ok"
            third = execute(ws2, "3")
            assert third["status"] == "error" and "used up" in third["evalue"]
        finally:
            ws2.close()
        assert execute(ws, "4")["status"] == "error"
        # refused before the kernel: recorded as denied, code kept, no outputs
        msg = make_msg("execute_request", {"code": "denied_code = 5", "silent": False}, ws.session)
        ws.send_raw(json.dumps(msg))
        ws.recv_until(lambda m: m.get("msg_type", m["header"]["msg_type"]) == "execute_reply"
                      and m["parent_header"].get("msg_id") == msg["header"]["msg_id"], 60)
        rec = execution_record(pserver, msg["header"]["msg_id"])
        assert rec["status"] == "denied" and "used up" in rec["reason"], rec
        assert rec["code"] == "denied_code = 5" and rec["outputs"] == [] and rec["started"] is None
        assert rec["principal"] == "pat" and rec["kernel_claims"] == [] and rec["previous"] is None
    finally:
        ws.close()
    assert pserver.alive()


# ------------------------------------------------------------------ the audit log

def audit(server):
    out = cli(server, "audit", "log", "--json").stdout.decode().splitlines()
    return [json.loads(line) for line in out]


def test_audit_records_denials_grants_and_mints(pserver, world, pat):
    bot = mint(pserver, "bot")
    r = pserver.request("POST", f"/api/kernels/{world['kernel']}/interrupt",
                        token=attenuate(pat, "action=execute"))
    assert r.status_code == 204, r.text
    pserver.request("GET", "/api/contents/m/n.ipynb", token=bot)
    pserver.request("GET", "/api/contents/agentdir", token=bot)  # an allowed read
    entries = audit(pserver)
    assert any(e["decision"] == "allow" and e["action"] == "admin" and e["resource"] == "bot"
               and "minted" in e["detail"] for e in entries)
    assert any(e["decision"] == "deny" and e["principal"] == "bot" and e["action"] == "read"
               and e["resource"] == "/m/n.ipynb" for e in entries)
    # grants of side effects are recorded; allowed reads are not
    assert any(e["decision"] == "allow" and e["principal"] == "pat" and e["action"] == "execute"
               for e in entries)
    assert not any(e["decision"] == "allow" and e["action"] == "read" for e in entries)
    # kernel launches, with their sandbox and limits
    assert any(e["decision"] == "launch" and e["resource"].startswith("kernel ")
               and "bubblewrap" in e["detail"] and "memory" in e["detail"] for e in entries)
    # the token itself never reaches the log
    raw = json.dumps(entries)
    assert bot not in raw and pat not in raw and decode(bot)[2].hex() not in raw
    p = cli(pserver, "audit", "verify")
    assert b"intact" in p.stdout


def test_audit_over_the_api(pserver, world, pat):
    admin = attenuate(pat, "action=admin")
    r = pserver.request("GET", "/api/cellgate/audit?verify=1&since=1&limit=3", token=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["seq"] for e in body["entries"]] == [2, 3, 4]
    assert body["verified"]["intact"] is True and body["verified"]["entries"] >= 4
    for bad in ("limit=0", "limit=x", "since=-1", "verify=2"):
        r = pserver.request("GET", "/api/cellgate/audit?" + bad, token=admin)
        assert r.status_code == 400 and r.json()["reason"] == "Bad Request", bad
    assert_forbidden(pserver.request("GET", "/api/cellgate/audit", token=attenuate(pat, "action=read")),
                     "reader", "admin")


def copy_state(server, dst):
    """The store (through sqlite's backup: the WAL too) and the head anchor."""
    os.makedirs(dst, mode=0o700)
    # the head first: it may lag the log (that is allowed), never lead it
    shutil.copy(os.path.join(server.state, "audit.head"), dst)
    src = sqlite3.connect(os.path.join(server.state, "store.sqlite"))
    out = sqlite3.connect(os.path.join(dst, "store.sqlite"))
    src.backup(out)
    src.close()
    out.close()
    return dst


def verify(state):
    return subprocess.run([cellgate_bin(), "audit", "verify", "--state", state],
                          capture_output=True, timeout=60)


UNGUARD = "DROP TRIGGER policy_audit_no_update; DROP TRIGGER policy_audit_no_delete;"


@pytest.mark.parametrize("edit,bad", [
    ("UPDATE policy_audit SET decision = 'forged' WHERE seq = 3", 3),
    ("UPDATE policy_audit SET principal = 'mallory' WHERE seq = 2", 2),
    ("DELETE FROM policy_audit WHERE seq = 2", 3),
    ("DELETE FROM policy_audit WHERE seq = (SELECT max(seq) FROM policy_audit)", "last"),
    ("UPDATE policy_audit SET seq = -1 WHERE seq = 2; UPDATE policy_audit SET seq = 2 WHERE seq = 3;"
     "UPDATE policy_audit SET seq = 3 WHERE seq = -1", 2),
], ids=["altered", "principal-changed", "deleted", "last-deleted", "reordered"])
def test_audit_tamper_is_named(pserver, world, edit, bad, tmp_path):
    # make sure there are entries to tamper with
    pserver.request("GET", "/api/contents/m", token=attenuate(mint(pserver, "bot"), "action=read"))
    state = copy_state(pserver, str(tmp_path / "state"))
    assert verify(state).returncode == 0
    db = sqlite3.connect(os.path.join(state, "store.sqlite"))
    last = db.execute("SELECT max(seq) FROM policy_audit").fetchone()[0]
    assert last >= 4
    db.executescript(UNGUARD + edit)
    db.commit()
    db.close()
    p = verify(state)
    assert p.returncode != 0, p.stdout
    want = last if bad == "last" else bad
    assert f"entry {want}:" in p.stderr.decode(), p.stderr.decode()


# ------------------------------------------------------------------ the store's CLI

def test_store_cli_checks_a_token(pserver, world, pat):
    def run(*args, token):
        return cli(pserver, *args, "--token", token, "--policy", pserver.policy_file, check=False)

    reader = attenuate(pat, "action=read", "path=m")
    p = run("log", "m/n.ipynb", token=reader)
    assert p.returncode == 0, p.stderr
    assert world["v2"] in p.stdout.decode()
    assert run("export", world["v1"], token=reader).returncode == 0
    elsewhere = attenuate(reader, "path=elsewhere")
    for args in (("log", "m/n.ipynb"), ("export", world["v1"]),
                 ("diff", world["v1"], world["v2"])):
        p = run(*args, token=elsewhere)
        assert p.returncode == 3, (args, p.returncode, p.stderr)
        assert b"needs read on /m/n.ipynb" in p.stderr, p.stderr
    p = run("branch", "m/n.ipynb", "cli-" + uuid.uuid4().hex[:6], token=reader)
    assert p.returncode == 3 and b"needs write" in p.stderr, p.stderr
    writer = attenuate(pat, "action=write", "path=m")
    b = "cli-" + uuid.uuid4().hex[:6]
    assert run("branch", "m/n.ipynb", b, token=writer).returncode == 0
    assert b in cli(pserver, "branch", "m/n.ipynb").stdout.decode()
    p = run("log", "m/n.ipynb", token=tamper(reader))
    assert p.returncode == 3 and not p.stdout, p.stderr
    entries = audit(pserver)
    assert any(e["decision"] == "deny" and e["detail"].startswith("cellgate log") for e in entries)
    assert any(e["decision"] == "allow" and e["detail"] == "cellgate branch" for e in entries)


# ------------------------------------------------------------------ prompts

def ask_kernel(server, token, path="askdir"):
    return server.request("POST", "/api/kernels", token=token, json={"name": "python3", "path": path})


def answer(server, token, pid, what):
    return server.request("POST", f"/api/cellgate/prompts/{pid}", token=token, json={"answer": what})


@pytest.fixture(scope="module")
def askdir(pserver):
    root(pserver, "PUT", "/api/contents/askdir", json={"type": "directory"})


def test_prompt_allow_once(pserver, pat, askdir):
    asker = attenuate(mint(pserver, "asker"), "kernelspec=python3")
    approver = attenuate(pat, "action=approve", "path=askdir")
    r = ask_kernel(pserver, asker)
    # pending: neither a failure nor a success, with somewhere to wait
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["prompt"]["state"] == "pending"
    pid = body["prompt"]["id"]
    assert r.headers["Location"].endswith(f"/api/cellgate/prompts/{pid}")
    assert body["prompt"]["principal"] == "asker" and body["prompt"]["action"] == "execute"
    # asking again while it waits is the same prompt
    assert ask_kernel(pserver, asker).json()["prompt"]["id"] == pid
    got = pserver.request("GET", f"/api/cellgate/prompts/{pid}", token=asker)
    assert got.status_code == 200 and got.json()["state"] == "pending"
    # the asker cannot answer (no approve); a principal with approve elsewhere cannot either
    assert_forbidden(answer(pserver, asker, pid, "allow_once"), "asker", "approve")
    assert_forbidden(answer(pserver, attenuate(pat, "action=approve", "path=m"), pid, "allow_once"),
                     "approver of another path", "approve")
    assert pid in [p["id"] for p in pserver.request(
        "GET", "/api/cellgate/prompts?state=pending", token=approver).json()]
    # a reader that may not approve does not see it
    assert pid not in [p["id"] for p in pserver.request(
        "GET", "/api/cellgate/prompts", token=attenuate(pat, "action=read")).json()]
    assert answer(pserver, approver, pid, "bogus").status_code == 400
    r = answer(pserver, approver, pid, "allow_once")
    assert r.status_code == 200 and r.json()["state"] == "allowed_once", r.text
    assert r.json()["answered_by"] == "pat"
    assert answer(pserver, approver, pid, "deny").status_code == 409
    r = ask_kernel(pserver, asker)
    assert r.status_code == 201, r.text
    pserver._kernels.add(r.json()["id"])
    # once means once
    r = ask_kernel(pserver, asker)
    assert r.status_code == 202 and r.json()["prompt"]["id"] != pid
    assert pserver.request("GET", f"/api/cellgate/prompts/{pid}", token=asker).json()["state"] == "used"


def test_prompt_allow_session_covers_the_channels(pserver, pat, askdir):
    asker = mint(pserver, "asker")
    approver = attenuate(pat, "action=approve")
    pid = ask_kernel(pserver, asker).json()["prompt"]["id"]
    assert answer(pserver, approver, pid, "allow_session").status_code == 200
    kids = []
    for _ in range(2):
        r = ask_kernel(pserver, asker)
        assert r.status_code == 201, r.text
        kids.append(r.json()["id"])
        pserver._kernels.add(kids[-1])
    # running code in it is the same action on the same notebook and kernelspec
    ws = pserver.ws_connect(kids[0], token=asker)
    try:
        assert execute(ws, "6*7")["status"] == "ok"
    finally:
        ws.close()
    # another token of the same principal is another session: it asks again
    other = mint(pserver, "asker")
    assert ask_kernel(pserver, other).status_code == 202
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        pserver.ws_connect(kids[0], token=other)
    assert e.value.status_code == 202


def test_prompt_wait_is_held_until_answered(pserver, pat, askdir):
    """?wait= holds the request: the asker waits on its prompt, an approver
    waits for something to approve; a second client answers."""
    import threading
    asker = mint(pserver, "asker")
    sub = "askdir/w-" + uuid.uuid4().hex[:6]
    root(pserver, "PUT", "/api/contents/" + sub, json={"type": "directory"})
    # an approver for this directory only: nothing pending there yet
    approver = attenuate(pat, "action=approve", "path=" + sub)
    seen = {}

    def approver_waits():
        seen["list"] = pserver.request("GET", "/api/cellgate/prompts?wait=60", token=approver)

    t = threading.Thread(target=approver_waits)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the approver's wait returned before there was a prompt"
    pid = ask_kernel(pserver, asker, sub).json()["prompt"]["id"]
    t.join(60)
    assert seen["list"].status_code == 200
    assert pid in [p["id"] for p in seen["list"].json()]

    def asker_waits():
        seen["one"] = pserver.request("GET", f"/api/cellgate/prompts/{pid}?wait=60", token=asker)

    t = threading.Thread(target=asker_waits)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the asker's wait returned while the prompt was pending"
    assert answer(pserver, approver, pid, "allow_once").status_code == 200
    t.join(60)
    assert seen["one"].status_code == 200 and seen["one"].json()["state"] == "allowed_once"
    r = ask_kernel(pserver, asker, sub)
    assert r.status_code == 201
    pserver._kernels.add(r.json()["id"])
    # a short wait on a prompt nobody answers comes back pending
    pid2 = ask_kernel(pserver, asker, sub).json()["prompt"]["id"]
    r = pserver.request("GET", f"/api/cellgate/prompts/{pid2}?wait=1", token=asker)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    for bad in ("0", "301", "x"):
        r = pserver.request("GET", f"/api/cellgate/prompts/{pid2}?wait={bad}", token=asker)
        assert r.status_code == 400, bad
    assert pserver.alive()


def test_prompt_deny(pserver, pat, askdir):
    asker = mint(pserver, "asker")
    pid = ask_kernel(pserver, asker).json()["prompt"]["id"]
    r = answer(pserver, attenuate(pat, "action=approve"), pid, "deny")
    assert r.status_code == 200 and r.json()["state"] == "denied"
    assert pserver.request("GET", f"/api/cellgate/prompts/{pid}", token=asker).json()["state"] == \
        "denied"
    # the denial is given to the next identical request, once (403, naming it);
    # asking after that is a new question, not an allow
    r = ask_kernel(pserver, asker)
    assert r.status_code == 403 and f"answered prompt {pid}: deny" in r.json()["message"], r.text
    r = ask_kernel(pserver, asker)
    assert r.status_code == 202 and r.json()["prompt"]["id"] != pid


def test_prompt_not_answered_by_its_asker(pserver):
    selfish = mint(pserver, "selfish")
    r = pserver.request("PUT", "/api/contents/self.txt", token=selfish,
                        json={"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 202, r.text
    pid = r.json()["prompt"]["id"]
    r = answer(pserver, selfish, pid, "allow_session")
    assert_forbidden(r, "own prompt", "approve")
    assert "own prompt" in r.json()["message"]
    # the server's own token may answer anything
    assert answer(pserver, True, pid, "allow_once").status_code == 200
    r = pserver.request("PUT", "/api/contents/self.txt", token=selfish,
                        json={"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 201, r.text


def test_prompts_are_audited(pserver, pat, askdir):
    asker = mint(pserver, "asker")
    pid = ask_kernel(pserver, asker).json()["prompt"]["id"]
    answer(pserver, attenuate(pat, "action=approve"), pid, "allow_once")
    r = ask_kernel(pserver, asker)
    assert r.status_code == 201
    pserver._kernels.add(r.json()["id"])
    entries = [e for e in audit(pserver) if pid in e["detail"]]
    assert [(e["principal"], e["decision"]) for e in entries] == [
        ("asker", "prompt"), ("pat", "allow"), ("asker", "allow")], entries
    assert cli(pserver, "audit", "verify").returncode == 0


def test_prompt_times_out(pserver):
    s = Server(REFERENCE)
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    s.extra_args += ["--policy", s.policy_file, "--prompt-timeout", "1"]
    gen = run_server(s)
    server = next(gen)
    try:
        asker = mint(server, "asker")
        root(server, "PUT", "/api/contents/askdir", json={"type": "directory"})
        r = ask_kernel(server, asker)
        assert r.status_code == 202
        pid = r.json()["prompt"]["id"]
        end = time.monotonic() + 30
        state = "pending"
        while state == "pending" and time.monotonic() < end:
            time.sleep(0.5)
            state = server.request("GET", f"/api/cellgate/prompts/{pid}", token=asker).json()["state"]
        assert state == "timed_out"
        # too late to answer
        assert answer(server, True, pid, "allow_once").status_code == 409
        assert any(e["decision"] == "deny" and f"prompt {pid} timed out" in e["detail"]
                   for e in audit(server))
    finally:
        next(gen, None)


def test_execution_records_name_the_tokens_principal(pserver, world, pat):
    """Code run through a capability token is recorded as its principal's,
    whoever saves the notebook afterwards; its provenance is read as the
    notebook is."""
    from nbclient_ws import Notebook
    nb = Notebook(pserver, "m/who-ran.ipynb", [("a", "40 + 2")])
    try:
        nb.ws.close()
        nb.ws = pserver.ws_connect(nb.kid, token=attenuate(pat, "action=execute", "path=m"))
        nb.run("a")
        v = nb.save()  # by the server's token
    finally:
        nb.close()
    p = root(pserver, "GET", f"/api/cellgate/provenance/m/who-ran.ipynb?version={v}").json()
    e = p["cells"][0]["execution"]
    assert e["principal"] == "pat" and p["principal"] != "pat", (e["principal"], p["principal"])
    reader = attenuate(pat, "action=read", "path=m")
    assert pserver.request("GET", f"/api/cellgate/execution/{e['id']}", token=reader).status_code == 200
    assert_forbidden(pserver.request("GET", f"/api/cellgate/execution/{e['id']}",
                                     token=attenuate(pat, "action=read", "path=elsewhere")), "elsewhere")
