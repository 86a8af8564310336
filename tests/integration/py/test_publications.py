"""Publishing a version, against a real server started with --policy.

A publication is an append-only record in the store that a stored version
of a notebook is published. Publishing needs `publish` on the notebook and
is a side effect a person decides on: a capability token's publication is a
prompt (by default; --publish-approval allow lets tokens publish directly,
and a principal's "ask" list still asks), answered by someone with
`approve`; the server's own token publishes directly. The prompt names the
notebook and the version, so an allow for one version publishes no other.
"""
import json
import os
import sqlite3
import subprocess
import time
import uuid

import pytest

from conftest import REFERENCE, Server, cellgate_bin, run_server
from test_policy import assert_forbidden, attenuate, cli, mint

pytestmark = pytest.mark.cellgate_only(reason="cellgate's publications")

POLICY = {"principals": {
    "rita": {"kind": "researcher", "actions": ["read", "write", "publish"]},
    "rev": {"kind": "reviewer", "actions": ["read", "approve"]},
    "carl": {"kind": "researcher", "actions": ["read", "write"]},
    # publishes only once a person approves, whatever the server's setting
    "ag": {"kind": "agent", "actions": ["read", "publish"], "ask": ["publish"]},
}}




def policy_server(*extra, config=None):
    s = Server(REFERENCE)
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    s.extra_args += ["--policy", s.policy_file, *extra]
    if config:
        path = os.path.join(s.tmp, "cellgate.conf")
        with open(path, "w") as f:
            f.write(config)
        s.extra_args += ["--config", path]
    return s


@pytest.fixture(scope="module")
def pub():
    s = policy_server()
    gen = run_server(s)
    server = next(gen)
    server.rita = mint(server, "rita")
    server.rev = mint(server, "rev")
    server.carl = mint(server, "carl")
    yield server
    next(gen, None)


def root(server, method, path, **kw):
    r = server.request(method, path, **kw)
    assert r.status_code < 400, (method, path, r.status_code, r.text)
    return r


def notebook(server, path, n=2):
    """path saved n times through the server's token: its version ids, oldest first."""
    d = os.path.dirname(path)
    if d:
        root(server, "PUT", "/api/contents/" + d, json={"type": "directory"})
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"id": "c0", "cell_type": "code", "source": "", "metadata": {}, "outputs": [],
         "execution_count": None}]}
    out = []
    for i in range(n):
        nb["cells"][0]["source"] = f"x = {i}"
        r = root(server, "PUT", "/api/contents/" + path, json={"type": "notebook", "content": nb})
        out.append(r.headers["X-Cellgate-Version"])
    return out


def publish(server, token, path, version=None, message=None):
    body = {"path": path}
    if version is not None:
        body["version"] = version
    if message is not None:
        body["message"] = message
    return server.request("POST", "/api/cellgate/publications", token=token, json=body)


def answer(server, token, pid, what):
    return server.request("POST", f"/api/cellgate/prompts/{pid}", token=token, json={"answer": what})


def audit(server):
    out = cli(server, "audit", "log", "--json").stdout.decode().splitlines()
    return [json.loads(line) for line in out]


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# ------------------------------------------------------------------ the prompt

def test_publish_asks_then_allow_once_publishes(pub):
    path = uniq("p/nb") + ".ipynb"
    v1, v2 = notebook(pub, path)
    r = publish(pub, pub.rita, path, message="for the paper")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["reason"] == "Accepted"
    prompt = body["prompt"]
    pid = prompt["id"]
    assert r.headers["Location"].endswith(f"/api/cellgate/prompts/{pid}")
    # the head of the checked-out branch, named whole in the prompt
    assert prompt["action"] == "publish" and prompt["principal"] == "rita"
    assert prompt["resource"] == f"/{path} version {v2}", prompt
    assert prompt["path"] == path and prompt["state"] == "pending"
    # asking again while it waits is the same prompt
    assert publish(pub, pub.rita, path).json()["prompt"]["id"] == pid
    # nothing is published yet
    listed = root(pub, "GET", "/api/cellgate/publications?path=" + path).json()["publications"]
    assert listed == []
    # the reviewer sees it among what it may answer; rita may not answer it
    pending = pub.request("GET", "/api/cellgate/prompts?state=pending", token=pub.rev).json()
    assert pid in [p["id"] for p in pending]
    assert_forbidden(answer(pub, pub.rita, pid, "allow_once"), "the asker", "approve")
    r = answer(pub, pub.rev, pid, "allow_once")
    assert r.status_code == 200 and r.json()["state"] == "allowed_once", r.text

    r = publish(pub, pub.rita, path, message="for the paper")
    assert r.status_code == 201, r.text
    p = r.json()
    assert r.headers["Location"].endswith(f"/api/cellgate/publications/{p['id']}")
    assert (p["path"], p["version"], p["published_by"], p["approved_by"], p["prompt"],
            p["message"]) == (path, v2, "rita", "rev", pid, "for the paper"), p
    assert pub.request("GET", f"/api/cellgate/prompts/{pid}", token=pub.rita).json()["state"] == "used"
    listed = root(pub, "GET", "/api/cellgate/publications?path=" + path).json()["publications"]
    assert listed == [p]
    got = pub.request("GET", f"/api/cellgate/publications/{p['id']}", token=pub.rita)
    assert got.status_code == 200 and got.json() == p
    # the same version again: a conflict naming the publication, without a prompt
    r = publish(pub, pub.rita, path, v2)
    assert r.status_code == 409 and r.json()["publication"]["id"] == p["id"], r.text
    # the publication, the prompt and its answer are in the audit log
    entries = [e for e in audit(pub) if e["action"] in ("publish", "approve") and
               f"/{path} version {v2}" == e["resource"]]
    assert [(e["principal"], e["action"], e["decision"]) for e in entries] == [
        ("rita", "publish", "prompt"), ("rev", "approve", "allow"),
        ("rita", "publish", "publish")], entries
    assert p["id"] in entries[-1]["detail"] and "approved by rev" in entries[-1]["detail"]
    assert cli(pub, "audit", "verify").returncode == 0


def test_an_allow_publishes_only_its_version(pub):
    path = uniq("p/two") + ".ipynb"
    v1, v2 = notebook(pub, path)
    r1 = publish(pub, pub.rita, path, v1)
    assert r1.status_code == 202
    assert r1.json()["prompt"]["resource"] == f"/{path} version {v1}"
    assert answer(pub, pub.rev, r1.json()["prompt"]["id"], "allow_once").status_code == 200
    # another version is another question, even by branch name (main's head is v2)
    r2 = publish(pub, pub.rita, path, "main")
    assert r2.status_code == 202, r2.text
    assert r2.json()["prompt"]["id"] != r1.json()["prompt"]["id"]
    assert r2.json()["prompt"]["resource"] == f"/{path} version {v2}"
    # the allow is still there for v1
    r = publish(pub, pub.rita, path, v1)
    assert r.status_code == 201 and r.json()["version"] == v1, r.text
    # and another token of the same principal is another asker
    other = mint(pub, "rita")
    r = publish(pub, other, path, v2)
    assert r.status_code == 202 and r.json()["prompt"]["id"] != r2.json()["prompt"]["id"]


def test_deny_is_a_403_naming_who_denied(pub):
    path = uniq("p/deny") + ".ipynb"
    notebook(pub, path, 1)
    pid = publish(pub, pub.rita, path).json()["prompt"]["id"]
    assert answer(pub, pub.rev, pid, "deny").status_code == 200
    r = publish(pub, pub.rita, path)
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "Forbidden"
    assert f"rev answered prompt {pid}: deny" in r.json()["message"], r.json()
    assert r.json()["message"].startswith("rita may not publish /" + path)
    # told once: asking again is a new question
    r = publish(pub, pub.rita, path)
    assert r.status_code == 202 and r.json()["prompt"]["id"] != pid
    assert root(pub, "GET", "/api/cellgate/publications?path=" + path).json()["publications"] == []
    assert any(e["decision"] == "deny" and e["action"] == "publish" and pid in e["detail"]
               for e in audit(pub))


def test_the_servers_token_publishes_directly(pub):
    path = uniq("p/root") + ".ipynb"
    v1, _ = notebook(pub, path)
    r = publish(pub, True, path, v1, "by the owner")
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["published_by"], p["approved_by"], p["prompt"]) == ("server-token", "", "")


# ------------------------------------------------------------------ refusals

def test_a_token_without_publish_is_refused(pub):
    path = uniq("p/no") + ".ipynb"
    notebook(pub, path, 1)
    r = publish(pub, pub.carl, path)
    assert_forbidden(r, "carl", "publish")
    # attenuated past publish, or to another path
    assert_forbidden(publish(pub, attenuate(pub.rita, "action=read"), path), "read only", "publish")
    r = publish(pub, attenuate(pub.rita, "path=elsewhere"), path)
    assert_forbidden(r, "elsewhere", "publish")
    assert f"/{path}" in r.json()["message"]
    # a refused token learns nothing about the notebook's versions
    r = publish(pub, pub.carl, path, "0123456789abcdef0123456789abcdef")
    assert r.status_code == 403
    assert any(e["principal"] == "carl" and e["action"] == "publish" and e["decision"] == "deny"
               for e in audit(pub))


def test_listing_is_narrowed_to_what_the_token_reads(pub):
    a = uniq("la/n") + ".ipynb"
    b = uniq("lb/n") + ".ipynb"
    va, = notebook(pub, a, 1)
    vb, = notebook(pub, b, 1)
    pa = publish(pub, True, a, va).json()
    pb = publish(pub, True, b, vb).json()
    narrow = attenuate(pub.rita, "path=" + os.path.dirname(a))
    ids = [p["id"] for p in pub.request("GET", "/api/cellgate/publications",
                                        token=narrow).json()["publications"]]
    assert pa["id"] in ids and pb["id"] not in ids
    assert all(p["path"].startswith(os.path.dirname(a) + "/") for p in
               pub.request("GET", "/api/cellgate/publications", token=narrow).json()["publications"])
    r = pub.request("GET", "/api/cellgate/publications?path=" + os.path.dirname(b), token=narrow)
    assert r.status_code == 200 and r.json()["publications"] == []
    # a directory's listing holds what is beneath it
    r = root(pub, "GET", "/api/cellgate/publications?path=" + os.path.dirname(b))
    assert [p["id"] for p in r.json()["publications"]] == [pb["id"]]
    assert_forbidden(pub.request("GET", f"/api/cellgate/publications/{pb['id']}", token=narrow),
                     "another path", "read")
    assert pub.request("GET", f"/api/cellgate/publications/{pa['id']}", token=narrow).status_code == 200
    # a token without read cannot list at all
    assert_forbidden(pub.request("GET", "/api/cellgate/publications",
                                 token=attenuate(pub.rita, "action=publish")), "no read", "read")


def test_bad_input_gets_a_clear_4xx(pub):
    path = uniq("p/bad") + ".ipynb"
    v1, _ = notebook(pub, path)
    other, = notebook(pub, uniq("p/other") + ".ipynb", 1)
    url = "/api/cellgate/publications"

    def post_raw(data):
        return pub.request("POST", url, data=data, headers={"Content-Type": "application/json"})

    cases = [
        (post_raw(b"{not json"), 400),
        (post_raw(b"[1, 2]"), 400),
        (post_raw(b"\xff\xfe"), 400),
        (pub.request("POST", url, json={}), 400),
        (pub.request("POST", url, json={"path": 7}), 400),
        (pub.request("POST", url, json={"path": path, "version": 3}), 400),
        (pub.request("POST", url, json={"path": path, "message": ["x"]}), 400),
        (pub.request("POST", url, json={"path": ""}), 400),
        (pub.request("POST", url, json={"path": "../etc/passwd"}), 400),
        (pub.request("POST", url, json={"path": "p/../../x.ipynb"}), 400),
        (pub.request("POST", url, json={"path": "/etc/passwd"}), 400),
        (pub.request("POST", url, json={"path": path, "version": "../main"}), 400),
        (pub.request("POST", url, json={"path": path, "version": "-x"}), 400),
        (pub.request("POST", url, json={"path": path, "message": "a\u0000b"}), 400),
        (pub.request("POST", url, json={"path": path, "message": "m" * 4097}), 413),
        (pub.request("POST", url, json={"path": "p/" + "d" * 700 + ".ipynb"}), 400),
        # unknown things are 404
        (pub.request("POST", url, json={"path": path, "version": "0123456789abcdef0123456789abcdef"}), 404),
        (pub.request("POST", url, json={"path": path, "version": "no-such-branch"}), 404),
        (pub.request("POST", url, json={"path": "p/never.ipynb"}), 404),
        # a version of another notebook is not one of this one
        (pub.request("POST", url, json={"path": path, "version": other}), 404),
        (pub.request("GET", url + "/zz"), 400),
        (pub.request("GET", url + "/0123456789abcdef0123456789abcdef"), 404),
        (pub.request("GET", url + "?limit=abc"), 400),
        (pub.request("GET", url + "?path=../x"), 400),
        (pub.request("DELETE", url), 405),
    ]
    for i, (r, status) in enumerate(cases):
        assert r.status_code == status, (i, r.status_code, r.text[:300])
        if status != 405:
            body = r.json()
            assert body["message"] and body["reason"], (i, body)
    # a message just at the limit is fine
    r = publish(pub, True, path, v1, "m" * 4096)
    assert r.status_code == 201, r.text
    assert pub.alive()


# ------------------------------------------------------------------ durability

def test_publications_survive_a_delete_and_a_restart():
    s = policy_server()
    gen = run_server(s)
    server = next(gen)
    try:
        rita, rev = mint(server, "rita"), mint(server, "rev")
        v1, v2 = notebook(server, "d/gone.ipynb")
        pid = publish(server, rita, "d/gone.ipynb", v1).json()["prompt"]["id"]
        assert answer(server, rev, pid, "allow_once").status_code == 200
        p = publish(server, rita, "d/gone.ipynb", v1).json()
        q = publish(server, True, "d/gone.ipynb", v2, "second").json()
        root(server, "DELETE", "/api/contents/d/gone.ipynb")
        # a deleted notebook's publications stay readable, by id and listed
        assert root(server, "GET", f"/api/cellgate/publications/{p['id']}").json() == p
        listed = root(server, "GET", "/api/cellgate/publications?path=d").json()["publications"]
        assert [x["id"] for x in listed] == [p["id"], q["id"]], listed
        # so is the version they name
        assert root(server, "GET", f"/api/cellgate/version/{v1}").json()["id"] == v1
        # and a notebook made anew at the same path starts its own history
        w1, = notebook(server, "d/gone.ipynb", 1)
        r = publish(server, True, "d/gone.ipynb", v1)
        assert r.status_code == 409, r.text  # v1 is still published, once
        assert publish(server, True, "d/gone.ipynb", w1).status_code == 201

        assert server.stop() == []
        server.start()
        assert root(server, "GET", f"/api/cellgate/publications/{p['id']}").json() == p
        listed = root(server, "GET", "/api/cellgate/publications?path=d").json()["publications"]
        assert [x["id"] for x in listed[:2]] == [p["id"], q["id"]] and len(listed) == 3

        # the table refuses UPDATE and DELETE, for any code that goes through sqlite
        db = sqlite3.connect(os.path.join(server.state, "store.sqlite"), timeout=30)
        try:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute("UPDATE publications SET approved_by = 'mallory'")
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute("DELETE FROM publications")
            db.rollback()
            rows = db.execute("SELECT id, approved_by FROM publications ORDER BY seq").fetchall()
        finally:
            db.close()
        assert rows[0] == (p["id"], "rev") and len(rows) == 3
        assert root(server, "GET", f"/api/cellgate/publications/{p['id']}").json() == p

        out = cli(server, "audit", "verify")
        assert out.returncode == 0, out.stderr
        published = [e for e in audit(server) if e["action"] == "publish" and e["decision"] == "publish"]
        assert [e["resource"] for e in published] == [
            f"/d/gone.ipynb version {v1}", f"/d/gone.ipynb version {v2}",
            f"/d/gone.ipynb version {w1}"], published
    finally:
        next(gen, None)


# ------------------------------------------------------------------ settings

def test_timeout_denies_and_allow_setting_with_an_ask_list():
    """--publish-approval allow (here from the configuration file): a token
    publishes directly, except a principal whose "ask" names publish; its
    prompt, unanswered past --prompt-timeout, is a denial told once."""
    s = policy_server("--prompt-timeout", "1", config="publish-approval = allow\n")
    gen = run_server(s)
    server = next(gen)
    try:
        rita, ag = mint(server, "rita"), mint(server, "ag")
        v1, v2 = notebook(server, "t/nb.ipynb")
        r = publish(server, rita, "t/nb.ipynb", v1)
        assert r.status_code == 201, r.text
        assert (r.json()["published_by"], r.json()["approved_by"]) == ("rita", "")
        r = publish(server, ag, "t/nb.ipynb", v2)
        assert r.status_code == 202, r.text
        pid = r.json()["prompt"]["id"]
        end = time.monotonic() + 60
        state = "pending"
        while state == "pending" and time.monotonic() < end:
            time.sleep(0.5)
            state = server.request("GET", f"/api/cellgate/prompts/{pid}", token=ag).json()["state"]
        assert state == "timed_out"
        r = publish(server, ag, "t/nb.ipynb", v2)
        assert r.status_code == 403, r.text
        assert f"prompt {pid} timed out" in r.json()["message"]
        assert publish(server, ag, "t/nb.ipynb", v2).status_code == 202
        assert [p["version"] for p in root(server, "GET", "/api/cellgate/publications").json()
                ["publications"]] == [v1]
        assert any(e["decision"] == "deny" and f"prompt {pid} timed out" in e["detail"]
                   for e in audit(server))
    finally:
        next(gen, None)


def test_bad_publish_approval_setting_is_refused(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    env = dict(os.environ, CELLGATE_PUBLISH_APPROVAL="sometimes")
    p = subprocess.run([cellgate_bin(), "serve", "--port", "1", "--root", str(ws),
                        "--state", str(tmp_path / "state")],
                       capture_output=True, timeout=30, env=env)
    assert p.returncode != 0
    assert b"publish-approval: ask or allow" in p.stderr, p.stderr


# ------------------------------------------------------------------ the command line

def test_cli_publish_and_publications(pub):
    path = uniq("c/cli") + ".ipynb"
    v1, v2 = notebook(pub, path)
    out = cli(pub, "publish", f"{path}@{v1}", "--message", "from the shell").stdout.decode().split()
    assert out[1:] == [path, v1], out
    # default: the head of the checked-out branch
    out = cli(pub, "publish", path).stdout.decode().split()
    assert out[2] == v2
    again = cli(pub, "publish", f"{path}@{v1}", check=False)
    assert again.returncode == 1 and b"already published" in again.stderr
    listed = json.loads(cli(pub, "publications", path, "--json").stdout)
    assert [(p["version"], p["message"]) for p in listed] == [(v1, "from the shell"), (v2, "")]
    assert listed[0]["published_by"].startswith("local:")
    # the server sees them
    assert root(pub, "GET", f"/api/cellgate/publications/{listed[0]['id']}").json() == listed[0]
    # a capability token: checked, and refused, since only the server asks a person
    p = cli(pub, "publish", path, "--token", pub.carl, "--policy", pub.policy_file, check=False)
    assert p.returncode == 3 and b"carl needs publish on" in p.stderr, p.stderr
    p = cli(pub, "publish", path, "--token", pub.rita, "--policy", pub.policy_file, check=False)
    assert p.returncode == 3 and b"approval" in p.stderr, p.stderr
    assert cli(pub, "publish", f"{path}@nope", check=False).returncode == 1
    assert cli(pub, "audit", "verify").returncode == 0
