"""Two prompted effects of issue 7 through a real server (--policy), real
ipykernels in bubblewrap and the audit log:

- a kernel's trust class is chosen when it starts: the request names one
  ({"cellgate": {"trust_class": ...}} in POST /api/kernels, or in the
  kernel object of POST /api/sessions), else the principal's default (an
  agent's is untrusted); a class weaker than that default is a prompt a
  reviewer answers, a trust= caveat outside it a 403, an unknown one a 400;
  the class's own limits and egress rules (trust.CLASS.* in the
  configuration) apply;
- an agent opening the channels of a kernel whose notebook another
  principal owns (the author of its first stored version) is a prompt
  "execute in /nb, owned by alice"; researchers are not asked.
"""
import json
import os
import subprocess
import uuid

import pytest
import websocket

from conftest import REFERENCE, Server, cellgate_bin, run_server
from test_egress import BODY, HOST, service  # noqa: F401  (the loopback service fixture)
from test_policy import cli, mint

pytestmark = pytest.mark.cellgate_only(reason="cellgate's trust classes and prompts")

POLICY = {"principals": {
    "alice": {"kind": "researcher"},
    "rev": {"kind": "reviewer"},
    # an agent that may write, so that it can own a notebook of its own
    "bot": {"kind": "agent", "actions": ["read", "write", "execute"]},
    # a researcher whose kernels are untrusted unless it asks otherwise
    "careful": {"kind": "researcher", "default_trust": "untrusted"},
}}

# set for the untrusted class only: a kernel shows it only when it runs there
UNTRUSTED_NOFILE = 777


@pytest.fixture(scope="module")
def ts(service):  # noqa: F811
    if REFERENCE:
        pytest.skip("cellgate only")
    s = Server(REFERENCE)
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    conf = os.path.join(s.tmp, "cellgate.conf")
    with open(conf, "w") as f:
        f.write(f"trust.untrusted.kernel-nofile = {UNTRUSTED_NOFILE}\n"
                # only trusted kernels may reach the loopback service
                f"trust.trusted.egress-allow = {HOST}:{service}\n")
    s.extra_args += ["--policy", s.policy_file, "--config", conf]
    # a kernelspec that asks for the untrusted class itself
    kd = os.path.join(s.kernelspec_dir, "py-untrusted")
    os.makedirs(kd)
    with open(os.path.join(kd, "kernel.json"), "w") as f:
        json.dump({"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "Python 3 (untrusted)", "language": "python",
                   "metadata": {"cellgate": {"trust_class": "untrusted"}}}, f)
    for srv in run_server(s):
        for d in ("work", "own"):
            r = srv.request("PUT", f"/api/contents/{d}", json={"type": "directory"})
            assert r.status_code in (200, 201), r.text
        srv.alice = mint(srv, "alice")
        srv.rev = mint(srv, "rev")
        srv.bot = mint(srv, "bot")
        yield srv




def audit(server):
    out = cli(server, "audit", "log", "--json").stdout.decode().splitlines()
    return [json.loads(line) for line in out]


def start(s, token, trust=None, path="work", name="python3"):
    body = {"name": name, "path": path}
    if trust is not None:
        body["cellgate"] = {"trust_class": trust}
    r = s.request("POST", "/api/kernels", token=token, json=body)
    if r.status_code == 201:
        s._kernels.add(r.json()["id"])
    return r


def answer(s, token, pid, what):
    r = s.request("POST", f"/api/cellgate/prompts/{pid}", token=token, json={"answer": what})
    assert r.status_code == 200, r.text
    return r.json()


def nofile(s, kid, token):
    ws = s.ws_connect(kid, token=token)
    try:
        out = s.execute(kid, "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[0])",
                        ws=ws, timeout=90).stdout
    finally:
        ws.close()
    return int(out.strip())


# ------------------------------------------------------------------ trust classes

def test_agent_starts_untrusted_with_the_class_limits(ts):
    r = start(ts, ts.bot)
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    assert r.json()["trust_class"] == "untrusted"
    model = ts.request("GET", f"/api/kernels/{kid}", token=ts.bot).json()
    assert model["trust_class"] == "untrusted"
    assert model["limits"]["open_files"] == UNTRUSTED_NOFILE, model["limits"]
    ts.wait_kernel_ready(kid, timeout=120)
    # the limit is the sandbox's, not only the model's word
    assert nofile(ts, kid, ts.bot) == UNTRUSTED_NOFILE
    # a restart keeps the class
    r = ts.request("POST", f"/api/kernels/{kid}/restart", token=ts.bot, timeout=180)
    assert r.status_code == 200 and r.json()["trust_class"] == "untrusted", r.text
    assert nofile(ts, kid, ts.bot) == UNTRUSTED_NOFILE
    # a researcher's default is trusted: the untrusted line does not apply
    r = start(ts, ts.alice)
    assert r.status_code == 201, r.text
    assert r.json()["trust_class"] == "trusted"
    assert r.json()["limits"]["open_files"] != UNTRUSTED_NOFILE, r.json()["limits"]
    # the launch entries name the class
    launches = {e["resource"]: e for e in audit(ts) if e["decision"] == "launch"}
    assert "trust untrusted" in launches[f"kernel {kid}"]["detail"]
    assert "trust trusted" in launches[f"kernel {r.json()['id']}"]["detail"]


FETCH = '''
import urllib.request, urllib.error
try:
    print("body", urllib.request.urlopen("http://{host}:{port}/x", timeout=60).read().decode(), end="")
except urllib.error.HTTPError as e:
    print("error", e.code, e.headers.get("X-Cellgate-Egress"), end="")
'''


def fetch(s, kid, token, port):
    ws = s.ws_connect(kid, token=token)
    try:
        return s.execute(kid, FETCH.format(host=HOST, port=port), ws=ws, timeout=120).stdout
    finally:
        ws.close()


def test_class_egress_rules_apply(ts, service):  # noqa: F811
    """trust.trusted.egress-allow lets only trusted kernels out."""
    r = start(ts, ts.bot)
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    ts.wait_kernel_ready(r.json()["id"], timeout=120)
    out = fetch(ts, r.json()["id"], ts.bot, service)
    assert out.startswith("error 403 denied"), out
    r = start(ts, ts.alice)
    assert r.status_code == 201 and r.json()["trust_class"] == "trusted", r.text
    ts.wait_kernel_ready(r.json()["id"], timeout=120)
    assert fetch(ts, r.json()["id"], ts.alice, service) == "body " + BODY.decode()


def test_agent_asks_for_a_trusted_kernel(ts):
    bot = mint(ts, "bot")
    r = start(ts, bot, "trusted")
    # pending: neither a failure nor a success
    assert r.status_code == 202, r.text
    p = r.json()["prompt"]
    pid = p["id"]
    assert r.json()["status"] == "pending" and p["state"] == "pending"
    assert r.headers["Location"].endswith(f"/api/cellgate/prompts/{pid}")
    assert p["principal"] == "bot" and p["action"] == "execute" and p["path"] == "work"
    assert p["resource"] == "/work kernelspec python3 trust trusted", p
    assert "weaker than untrusted" in p["request"], p
    # asking again while it waits is the same prompt; the agent cannot answer it
    assert start(ts, bot, "trusted").json()["prompt"]["id"] == pid
    r = ts.request("POST", f"/api/cellgate/prompts/{pid}", token=bot, json={"answer": "allow_once"})
    assert r.status_code == 403, r.text
    assert answer(ts, ts.rev, pid, "allow_once")["answered_by"] == "rev"
    r = start(ts, bot, "trusted")
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    model = ts.request("GET", f"/api/kernels/{kid}", token=bot).json()
    assert model["trust_class"] == "trusted"
    assert model["limits"]["open_files"] != UNTRUSTED_NOFILE
    ts.wait_kernel_ready(kid, timeout=120)
    assert nofile(ts, kid, bot) != UNTRUSTED_NOFILE
    # once means once
    r = start(ts, bot, "trusted")
    assert r.status_code == 202 and r.json()["prompt"]["id"] != pid
    assert ts.request("GET", f"/api/cellgate/prompts/{pid}", token=bot).json()["state"] == "used"
    # naming its own default (or a stronger class) asks nobody
    r = start(ts, bot, "untrusted")
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    entries = [e for e in audit(ts) if pid in e["detail"]]
    assert [(e["principal"], e["action"], e["decision"]) for e in entries] == [
        ("bot", "execute", "prompt"), ("bot", "approve", "deny"), ("rev", "approve", "allow"),
        ("bot", "execute", "allow")], entries
    assert entries[0]["resource"] == "/work kernelspec python3 trust trusted"


def test_trust_prompt_deny_and_session(ts):
    bot = mint(ts, "bot")
    pid = start(ts, bot, "trusted").json()["prompt"]["id"]
    assert answer(ts, ts.rev, pid, "deny")["state"] == "denied"
    # the denial is given once, naming who denied; asking after that asks again
    r = start(ts, bot, "trusted")
    assert r.status_code == 403, r.text
    assert "rev answered prompt" in r.json()["message"] and "deny" in r.json()["message"]
    r = start(ts, bot, "trusted")
    assert r.status_code == 202 and r.json()["prompt"]["id"] != pid
    pid = r.json()["prompt"]["id"]
    assert answer(ts, ts.rev, pid, "allow_session")["state"] == "allowed_session"
    for _ in range(2):
        r = start(ts, bot, "trusted")
        assert r.status_code == 201 and r.json()["trust_class"] == "trusted", r.text
    # the same through a session's kernel object
    r = ts.request("POST", "/api/sessions", token=bot, json={
        "path": "work/s-" + uuid.uuid4().hex[:6] + ".ipynb", "type": "notebook", "name": "",
        "kernel": {"name": "python3", "cellgate": {"trust_class": "trusted"}}})
    assert r.status_code == 202, r.text
    assert r.json()["prompt"]["resource"].endswith("kernelspec python3 trust trusted")
    # and through a session's new kernel (PATCH), after its allow for the session
    r = ts.request("POST", "/api/sessions", token=bot, json={
        "path": "work/p-" + uuid.uuid4().hex[:6] + ".ipynb", "type": "notebook",
        "kernel": {"name": "python3"}})
    assert r.status_code == 201 and r.json()["kernel"]["id"], r.text
    ts._kernels.add(r.json()["kernel"]["id"])
    sid = r.json()["id"]
    other = mint(ts, "bot")
    r = ts.request("PATCH", f"/api/sessions/{sid}", token=other,
                   json={"kernel": {"name": "python3", "cellgate": {"trust_class": "trusted"}}})
    assert r.status_code == 202, r.text
    r = ts.request("PATCH", f"/api/sessions/{sid}", token=other,
                   json={"kernel": {"name": "python3", "cellgate": {"trust_class": "purple"}}})
    assert r.status_code == 400, r.text
    # another token of the same principal is another session
    assert start(ts, mint(ts, "bot"), "trusted").status_code == 202
    assert any(e["decision"] == "deny" and e["principal"] == "bot" and "answered prompt" in e["detail"]
               for e in audit(ts))


def test_trust_caveat_narrows_before_any_prompt(ts):
    narrowed = mint(ts, "bot", "trust=untrusted")
    before = len(ts.request("GET", "/api/cellgate/prompts", token=ts.rev).json())
    r = start(ts, narrowed, "trusted")
    assert r.status_code == 403, r.text
    assert "the token allows trust untrusted only" in r.json()["message"], r.text
    assert r.json()["reason"] == "Forbidden"
    assert len(ts.request("GET", "/api/cellgate/prompts", token=ts.rev).json()) == before
    # it still sees the kernelspecs it may start in the class it may use
    assert "python3" in ts.request("GET", "/api/kernelspecs", token=narrowed).json()["kernelspecs"]
    # what it allows starts without asking
    r = start(ts, narrowed)
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text


def test_researcher_picks_classes_without_prompts(ts):
    r = start(ts, ts.alice, "untrusted")
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    assert r.json()["limits"]["open_files"] == UNTRUSTED_NOFILE
    # a researcher whose default is untrusted asks for trusted like an agent does
    careful = mint(ts, "careful")
    r = start(ts, careful)
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    r = start(ts, careful, "trusted")
    assert r.status_code == 202, r.text
    # the server's token gets what it names, or the kernelspec's class
    r = start(ts, True, "untrusted")
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    r = start(ts, True)
    assert r.status_code == 201 and r.json()["trust_class"] == "trusted", r.text


def test_kernelspec_class_is_a_floor(ts):
    """A kernelspec's own class is the least a principal gets without asking."""
    r = start(ts, ts.alice, name="py-untrusted")
    assert r.status_code == 201 and r.json()["trust_class"] == "untrusted", r.text
    r = start(ts, ts.alice, "trusted", name="py-untrusted")
    assert r.status_code == 202, r.text
    assert "weaker than untrusted, alice's default for kernelspec py-untrusted" in \
        r.json()["prompt"]["request"]
    # the server's token gets what it names
    r = start(ts, True, "trusted", name="py-untrusted")
    assert r.status_code == 201 and r.json()["trust_class"] == "trusted", r.text
    # an unknown kernelspec is a 404, not a question
    r = start(ts, ts.bot, "trusted", name="no-such-spec")
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("bad", ["purple", "", 5, None, "replay", "TRUSTED"])
def test_bad_trust_class_is_400(ts, bad):
    for body in ({"name": "python3", "cellgate": {"trust_class": bad}},):
        r = ts.request("POST", "/api/kernels", token=ts.bot, json=body)
        if bad is None:  # null names none: the default
            assert r.status_code == 201, r.text
            ts._kernels.add(r.json()["id"])
            continue
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["reason"] == "Bad Request" and "trust" in r.json()["message"]
    r = ts.request("POST", "/api/sessions", token=ts.bot, json={
        "path": "work/bad.ipynb", "type": "notebook",
        "kernel": {"name": "python3", "cellgate": {"trust_class": "purple"}}})
    assert r.status_code == 400, r.text
    for cg in ("untrusted", ["x"]):
        r = ts.request("POST", "/api/kernels", token=ts.bot, json={"name": "python3", "cellgate": cg})
        assert r.status_code == 400, r.text
    assert ts.alive()


def test_bad_default_trust_stops_the_server(tmp_path):
    if REFERENCE:
        pytest.skip("cellgate only")
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps({"principals": {"x": {"kind": "agent", "default_trust": "replay"}}}))
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    p = subprocess.run([cellgate_bin(), "token", "mint", "--principal", "x", "--policy", str(pol),
                        "--state", str(state)], capture_output=True, timeout=60)
    assert p.returncode != 0 and b"default_trust" in p.stderr, p.stderr


# ------------------------------------------------------------------ ownership

NB = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"id": "c0", "cell_type": "code", "source": "6 * 7", "metadata": {}, "outputs": [],
     "execution_count": None}]}


def save(s, token, path):
    r = s.request("PUT", f"/api/contents/{path}", token=token, json={"type": "notebook", "content": NB})
    assert r.status_code in (200, 201), r.text


def session(s, token, path):
    r = s.request("POST", "/api/sessions", token=token,
                  json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
    assert r.status_code == 201, r.text
    kid = r.json()["kernel"]["id"]
    s._kernels.add(kid)
    s.wait_kernel_ready(kid, timeout=120)
    return r.json()["id"], kid


def refused(s, kid, token):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        s.ws_connect(kid, token=token).close()
    return e.value.status_code


def pending_for(s, token, resource):
    """The newest pending prompt on resource the token sees (other tokens of
    the same principal may have theirs pending too)."""
    got = [p for p in s.request("GET", "/api/cellgate/prompts?state=pending", token=token).json()
           if p["resource"] == resource]
    assert got, resource
    return max(got, key=lambda p: p["created"])


def run_cell(s, kid, token):
    ws = s.ws_connect(kid, token=token)
    try:
        res = s.execute(kid, "6 * 7", ws=ws, timeout=90)
    finally:
        ws.close()
    assert res.reply["status"] == "ok"
    return res


@pytest.fixture(scope="module")
def alices(ts):
    path = "own/alice.ipynb"
    save(ts, ts.alice, path)
    return path


def test_agent_in_someone_elses_notebook_asks(ts, alices):
    bot = mint(ts, "bot")
    _, kid = session(ts, bot, alices)
    assert refused(ts, kid, bot) == 202
    p = pending_for(ts, bot, f"/{alices}, owned by alice")
    assert p["principal"] == "bot" and p["action"] == "execute" and p["path"] == alices
    assert "bot does not own" in p["request"]
    # asking again while it waits is the same prompt
    assert refused(ts, kid, bot) == 202
    assert pending_for(ts, bot, f"/{alices}, owned by alice")["id"] == p["id"]
    # a researcher is not asked, nor is the server's token
    assert run_cell(ts, kid, ts.alice).result == "42"
    assert run_cell(ts, kid, True).ok
    answer(ts, ts.rev, p["id"], "allow_once")
    res = run_cell(ts, kid, bot)
    assert res.result == "42" and res.reply["execution_count"] >= 1
    # once means once
    assert refused(ts, kid, bot) == 202
    p2 = pending_for(ts, bot, f"/{alices}, owned by alice")
    assert p2["id"] != p["id"]
    answer(ts, ts.rev, p2["id"], "allow_session")
    for _ in range(2):
        run_cell(ts, kid, bot)
    # the session is the token's: another token of bot asks again
    assert refused(ts, kid, mint(ts, "bot")) == 202
    entries = [e for e in audit(ts) if p["id"] in e["detail"]]
    assert [(e["principal"], e["decision"]) for e in entries] == [
        ("bot", "prompt"), ("rev", "allow"), ("bot", "allow")], entries
    assert entries[0]["resource"] == f"/{alices}, owned by alice"


def test_ownership_denied(ts, alices):
    bot = mint(ts, "bot")
    _, kid = session(ts, bot, alices)
    assert refused(ts, kid, bot) == 202
    p = pending_for(ts, bot, f"/{alices}, owned by alice")
    answer(ts, ts.rev, p["id"], "deny")
    assert refused(ts, kid, bot) == 403
    # the denial was given; the next open asks again
    assert refused(ts, kid, bot) == 202
    assert any(e["decision"] == "deny" and e["principal"] == "bot"
               and e["resource"] == f"/{alices}, owned by alice" for e in audit(ts))


def test_agent_in_its_own_notebook_is_not_asked(ts, alices):
    bot = mint(ts, "bot")
    mine = "own/bot-" + uuid.uuid4().hex[:6] + ".ipynb"
    save(ts, bot, mine)
    sid, kid = session(ts, bot, mine)
    assert run_cell(ts, kid, bot).result == "42"
    # moving the session to alice's notebook: the next open asks
    r = ts.request("PATCH", f"/api/sessions/{sid}", token=bot, json={"path": alices})
    assert r.status_code == 200, r.text
    assert refused(ts, kid, bot) == 202
    assert pending_for(ts, bot, f"/{alices}, owned by alice")["principal"] == "bot"
    # its own notebook's session bound to alice's kernel does not hide alice's notebook
    apath = "own/alice-" + uuid.uuid4().hex[:6] + ".ipynb"
    save(ts, ts.alice, apath)
    _, akid = session(ts, ts.alice, apath)
    mine2 = "own/bot2-" + uuid.uuid4().hex[:6] + ".ipynb"
    save(ts, bot, mine2)
    r = ts.request("POST", "/api/sessions", token=bot,
                   json={"path": mine2, "type": "notebook", "kernel": {"id": akid}})
    assert r.status_code == 201, r.text
    assert refused(ts, akid, bot) == 202
    pending_for(ts, bot, f"/{apath}, owned by alice")
    # a notebook nobody saved yet is nobody's: no prompt
    fresh = "own/new-" + uuid.uuid4().hex[:6] + ".ipynb"
    _, kid2 = session(ts, bot, fresh)
    run_cell(ts, kid2, bot)
    # a rename keeps the owner
    moved = "own/moved-" + uuid.uuid4().hex[:6] + ".ipynb"
    save(ts, ts.alice, "own/tomove.ipynb")
    r = ts.request("PATCH", "/api/contents/own/tomove.ipynb", token=ts.alice, json={"path": moved})
    assert r.status_code == 200, r.text
    _, kid3 = session(ts, bot, moved)
    assert refused(ts, kid3, bot) == 202
    pending_for(ts, bot, f"/{moved}, owned by alice")


def test_notebook_from_outside_cellgate_is_the_filesystems(ts):
    path = "own/dropped-" + uuid.uuid4().hex[:6] + ".ipynb"
    with open(os.path.join(ts.workspace, path), "w") as f:
        json.dump(NB, f)
    bot = mint(ts, "bot")
    _, kid = session(ts, bot, path)
    assert refused(ts, kid, bot) == 202
    pending_for(ts, bot, f"/{path}, owned by filesystem")


def test_audit_verifies(ts):
    p = cli(ts, "audit", "verify")
    assert b"intact" in p.stdout, p.stdout
    assert ts.alive()
