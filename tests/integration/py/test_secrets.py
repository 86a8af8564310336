"""Named secrets: kept by the server, never shown, given to a kernel only
after a person approves.

An admin sets secrets over the API and the command line (the value from
stdin). A real ipykernel in bubblewrap, started by an agent's capability
token, reads one with urlopen(CELLGATE_SECRETS_URL + NAME) through the
sandbox's proxy; the egress broker holds the request and raises a prompt in
the agent's name; a second client (alice, who may approve) answers it:
allow once (the cell gets the value; the next read asks again), allow for
the kernel session (no more prompts until a restart), deny, or nobody (a
second server with a short --prompt-timeout). A token whose effect=
caveats do not name the secret is refused at once, an unknown secret is
404 without a prompt. The cells print a digest of what they got, not the
value (a cell's outputs are recorded like any other): so the value must
appear nowhere the server writes: its log, the audit log, the egress
decisions, the execution records, the prompts. `cellgate audit verify`
passes after.
"""
import hashlib
import json
import os
import subprocess
import threading
import time

import pytest

from conftest import REFERENCE, Server, cellgate_bin, execution_record, run_server
from test_egress_prompts import answer, audit, decisions, pending_prompt
from test_policy import cli, mint

pytestmark = pytest.mark.cellgate_only

POLICY = {"principals": {
    "agent": {"kind": "agent", "actions": ["read", "write", "execute"], "paths": ["nb"]},
    "alice": {"kind": "researcher", "actions": ["read", "approve"]},
    "ops": {"kind": "researcher", "actions": ["read", "admin"]},
}}

# values no test writes anywhere else, so finding one is a leak
VALUES = {name: f"v4lue-{name}-" + os.urandom(8).hex() for name in
          ("DB_PASSWORD", "api.key", "SESSION_ONE", "TIMEOUT_ONE", "CLI_ONE")}


def secrets_server(*extra):
    s = Server(REFERENCE, extra_args=list(extra))
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    s.extra_args += ["--policy", s.policy_file]
    return s


def add_tokens_and_secrets(s):
    r = s.request("PUT", "/api/contents/nb", json={"type": "directory"})
    assert r.status_code in (200, 201), r.text
    s.agent = mint(s, "agent")
    s.alice = mint(s, "alice")
    s.ops = mint(s, "ops")
    for name, value in VALUES.items():
        r = s.request("PUT", f"/api/cellgate/secrets/{name}", token=s.ops, json={"value": value})
        assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def sserver():
    if REFERENCE:
        pytest.skip("cellgate only")
    for srv in run_server(secrets_server()):
        add_tokens_and_secrets(srv)
        yield srv


@pytest.fixture(scope="module")
def tserver():
    if REFERENCE:
        pytest.skip("cellgate only")
    for srv in run_server(secrets_server("--prompt-timeout", "3")):
        add_tokens_and_secrets(srv)
        yield srv


def assert_nowhere(s, kid=None, records=()):
    """No value appears in what the server shows or writes."""
    with open(s.log_path, "rb") as f:
        log = f.read().decode(errors="replace")
    places = {"server log": log,
              "audit log": cli(s, "audit", "log", "--json").stdout.decode(),
              "prompts": s.request("GET", "/api/cellgate/prompts").text,
              "secrets listing": s.request("GET", "/api/cellgate/secrets").text}
    if kid:
        places["egress decisions"] = json.dumps(decisions(s, kid))
    for i, rec in enumerate(records):
        places[f"execution record {i}"] = json.dumps(rec)
    for where, text in places.items():
        for value in VALUES.values():
            assert value not in text, f"a secret's value is in the {where}"
    # the search finds a value where it is: the secrets file
    with open(os.path.join(s.state, "secrets.sqlite"), "rb") as f:
        assert VALUES["DB_PASSWORD"].encode() in f.read()


def agent_kernel(s, token=None):
    r = s.request("POST", "/api/kernels", token=token or s.agent,
                  json={"name": "python3", "path": "nb"})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    s._kernels.add(kid)
    s.wait_kernel_ready(kid, timeout=90)
    return kid


READ = '''
import hashlib, os, urllib.request, urllib.error
try:
    v = urllib.request.urlopen(os.environ["CELLGATE_SECRETS_URL"] + {name!r}, timeout=200).read()
    print("sha256", hashlib.sha256(v).hexdigest(), end="")
except urllib.error.HTTPError as e:
    print("error", e.code, e.read().decode(), end="")
'''


def digest(name):
    return "sha256 " + hashlib.sha256(VALUES[name].encode()).hexdigest()


class Read:
    """A cell reading a secret, in a thread: it blocks while its prompt waits."""

    def __init__(self, s, kid, name, token=None):
        self.res = self.error = None
        self.ws = s.ws_connect(kid, token=token or s.agent)

        def run():
            try:
                self.res = s.execute(kid, READ.format(name=name), timeout=240, ws=self.ws)
            except Exception as e:  # reported by result()
                self.error = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def result(self):
        self.t.join(240)
        self.ws.close()
        assert not self.t.is_alive(), "the cell did not finish"
        assert self.error is None, self.error
        return self.res.stdout

    def msg_id(self):
        return self.res.msgs[0]["parent_header"]["msg_id"]


# ------------------------------------------------------------------ managing them

def test_manage_over_the_api(sserver):
    s = sserver
    r = s.request("PUT", "/api/cellgate/secrets/TEMP_1", token=s.ops, json={"value": "first"})
    assert r.status_code == 201 and r.json() == {"name": "TEMP_1", "replaced": False}, r.text
    r = s.request("PUT", "/api/cellgate/secrets/TEMP_1", token=s.ops, json={"value": "second"})
    assert r.status_code == 200 and r.json()["replaced"] is True, r.text
    listing = s.request("GET", "/api/cellgate/secrets", token=s.ops)
    assert listing.status_code == 200, listing.text
    mine = [x for x in listing.json() if x["name"] == "TEMP_1"]
    assert mine and set(mine[0]) == {"name", "created", "created_by", "updated", "updated_by"}
    assert mine[0]["created_by"] == "ops" and "second" not in listing.text
    # the value never comes back out of the API
    assert s.request("GET", "/api/cellgate/secrets/TEMP_1", token=s.ops).status_code == 405
    assert s.request("DELETE", "/api/cellgate/secrets/TEMP_1", token=s.ops).status_code == 204
    r = s.request("DELETE", "/api/cellgate/secrets/TEMP_1", token=s.ops)
    assert r.status_code == 404 and r.json()["message"] == "there is no secret TEMP_1", r.text
    entries = [e for e in audit(s) if e["resource"] == "secret TEMP_1"]
    assert [(e["principal"], e["detail"]) for e in entries] == [
        ("ops", "set a new secret"), ("ops", "replaced its value"), ("ops", "deleted the secret")]
    assert not [e for e in audit(s) if "second" in json.dumps(e)]


@pytest.mark.parametrize("name", ["bad!name", ".hidden", "-x", "a" * 65, "caf%C3%A9", "a%20b"])
def test_bad_names(sserver, name):
    r = sserver.request("PUT", f"/api/cellgate/secrets/{name}", token=sserver.ops,
                        json={"value": "x"})
    assert r.status_code == 400, (name, r.status_code, r.text)
    assert r.json()["reason"] == "Bad Request" and "a secret's name" in r.json()["message"]


@pytest.mark.parametrize("body,status", [
    (b'{"value": "not closed', 400),
    (b'{"value": 5}', 400),
    (b'{"value": ""}', 400),
    (b'{"value": "x", "other": 1}', 400),
    (b'["value"]', 400),
    (b'', 400),
    (json.dumps({"value": "y" * 65537}).encode(), 413),
])
def test_bad_bodies(sserver, body, status):
    s = sserver
    status_got, _, data = s.raw_request("PUT", "/api/cellgate/secrets/BAD_BODY",
                                        headers={"Content-Type": "application/json",
                                                 "Authorization": f"token {s.ops}"},
                                        body=body, token=False)
    assert status_got == status, (body[:40], status_got, data[:300])
    msg = json.loads(data)["message"]
    # the error never quotes what was sent
    assert "not closed" not in msg and "yyyy" not in msg, msg
    assert s.request("DELETE", "/api/cellgate/secrets/BAD_BODY", token=s.ops).status_code == 404
    assert s.alive()


def test_management_needs_admin(sserver):
    s = sserver
    for method, url, body in (("GET", "/api/cellgate/secrets", None),
                              ("PUT", "/api/cellgate/secrets/X1", {"value": "v"}),
                              ("DELETE", "/api/cellgate/secrets/DB_PASSWORD", None)):
        for token in (s.agent, s.alice):
            r = s.request(method, url, token=token, json=body)
            assert r.status_code == 403, (method, url, r.status_code, r.text)
            assert "needs admin" in r.json()["message"], r.text
    # still there
    assert any(x["name"] == "DB_PASSWORD" for x in
               s.request("GET", "/api/cellgate/secrets", token=s.ops).json())


def test_cli(sserver):
    s = sserver
    value = VALUES["CLI_ONE"]
    # the value is read from stdin; a trailing newline is not part of it
    p = cli(s, "secret", "set", "CLI_TWO", input=(value + "\n").encode())
    assert p.stdout.decode() == "set secret CLI_TWO\n"
    assert "CLI_TWO" in cli(s, "secret", "list").stdout.decode()
    rows = [json.loads(x) for x in cli(s, "secret", "list", "--json").stdout.decode().splitlines()]
    assert any(x["name"] == "CLI_TWO" and x["created_by"].startswith("local:") for x in rows)
    # never from the command line
    p = cli(s, "secret", "set", "CLI_THREE", value, check=False, input=b"")
    assert p.returncode == 2 and b"never from the command line" in p.stderr
    p = cli(s, "secret", "set", "../x", check=False, input=b"v")
    assert p.returncode == 2 and b"a secret's name" in p.stderr
    p = cli(s, "secret", "set", "BIG", check=False, input=b"z" * 70000)
    assert p.returncode == 1 and b"at most 65536 bytes" in p.stderr
    cli(s, "secret", "delete", "CLI_TWO")
    assert cli(s, "secret", "delete", "CLI_TWO", check=False).returncode == 1
    entries = [e for e in audit(s) if e["resource"] == "secret CLI_TWO"]
    assert [e["detail"] for e in entries] == ["set a new secret", "deleted the secret"]
    st = os.stat(os.path.join(s.state, "secrets.sqlite"))
    assert st.st_mode & 0o777 == 0o600


def test_cli_finds_the_state_as_the_server_does(tmp_path):
    """Without --state, every command line tool uses the directory `cellgate
    serve` would: $CELLGATE_STATE, else $XDG_DATA_HOME/cellgate, else
    ~/.local/share/cellgate."""
    xdg, home = tmp_path / "xdg", tmp_path / "home"
    (xdg / "cellgate").mkdir(parents=True, mode=0o700)
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CELLGATE_STATE"}
    env.update(XDG_DATA_HOME=str(xdg), HOME=str(home))
    p = subprocess.run([cellgate_bin(), "secret", "set", "WHERE"], input=b"v", env=env,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (xdg / "cellgate" / "secrets.sqlite").exists()
    for args in (["audit", "verify"], ["secret", "list"]):
        p = subprocess.run([cellgate_bin(), *args], env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, (args, p.stderr)
    assert b"WHERE" in p.stdout
    assert not (home / ".local").exists()
    env["CELLGATE_STATE"] = str(tmp_path / "elsewhere")
    p = subprocess.run([cellgate_bin(), "secret", "list"], env=env, capture_output=True, timeout=60)
    assert b"WHERE" not in p.stdout


# ------------------------------------------------------------------ a kernel reads one

def test_allow_once_then_asks_again_then_deny(sserver):
    s = sserver
    kid = agent_kernel(s)
    cell = Read(s, kid, "DB_PASSWORD")
    p = pending_prompt(s, kid, s.alice)
    assert p["action"] == "effect" and p["effect"] == "secret DB_PASSWORD", p
    assert p["principal"] == "agent" and p["path"] == "nb", p
    assert p["request"] == "GET http://secrets.cellgate/DB_PASSWORD", p
    assert cell.t.is_alive(), "the cell finished while its read was held"
    # the agent sees it as its own pending prompt, and cannot answer it
    mine = s.request("GET", "/api/cellgate/prompts?state=pending", token=s.agent).json()
    assert [x["id"] for x in mine if x.get("kernel") == kid] == [p["id"]]
    assert answer(s, p["id"], "allow_once", s.agent).status_code == 403
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 200
    assert cell.result() == digest("DB_PASSWORD")
    # the kernel's busy status names the cell's request, unless the read
    # reached the broker before that status reached the server (the kernel's
    # word, shown when known); the record links the effect to it either way
    assert p.get("execution") in (None, cell.msg_id()), p
    first = execution_record(s, cell.msg_id())
    assert s.request("GET", f"/api/cellgate/prompts/{p['id']}").json()["state"] == "used"
    d = decisions(s, kid)
    assert [(x["effect"], x["decision"]) for x in d] == [
        ("secret DB_PASSWORD", "prompt"), ("secret DB_PASSWORD", "allow")], d
    assert "allowed once by alice" in d[-1]["reason"], d[-1]
    eff = first["effects"]
    assert [(e["effect"], e["name"], e["decision"]) for e in eff] == [
        ("secret", "DB_PASSWORD", "prompt"), ("secret", "DB_PASSWORD", "allow")], eff

    # once was that read's: the next asks again; deny it
    cell = Read(s, kid, "DB_PASSWORD")
    p2 = pending_prompt(s, kid, s.alice)
    assert p2["id"] != p["id"]
    assert answer(s, p2["id"], "deny", s.alice).status_code == 200
    out = cell.result()
    assert out == (f"error 403 cellgate secrets: secret DB_PASSWORD is denied: alice answered "
                   f"prompt {p2['id']}: deny\n"), out
    second = execution_record(s, cell.msg_id())
    assert [e["decision"] for e in second["effects"]] == ["prompt", "deny"]

    entries = [e for e in audit(s) if e["resource"] == "secret DB_PASSWORD"]
    once = [e["decision"] for e in entries if p["id"] in e["detail"]]
    assert once == ["prompt", "allow", "allow"], entries   # asked, answered, given
    assert any("given to the kernel" in e["detail"] and e["principal"] == "agent"
               for e in entries if p["id"] in e["detail"])
    assert [e["decision"] for e in entries if p2["id"] in e["detail"]] == ["prompt", "deny", "deny"]
    assert_nowhere(s, kid, [first, second])
    assert b"intact" in cli(s, "audit", "verify").stdout
    s.delete_kernel(kid)


def test_allow_for_the_kernel_session(sserver):
    s = sserver
    kid = agent_kernel(s)
    cell = Read(s, kid, "SESSION_ONE")
    p = pending_prompt(s, kid, s.alice)
    assert answer(s, p["id"], "allow_session", s.alice).status_code == 200
    assert cell.result() == digest("SESSION_ONE")
    # the same secret again: no prompt; another one still asks
    for _ in range(2):
        assert s.execute(kid, READ.format(name="SESSION_ONE"), timeout=120).stdout == \
            digest("SESSION_ONE")
    d = decisions(s, kid)
    assert [x["decision"] for x in d] == ["prompt", "allow", "allow", "allow"], d
    assert d[-1]["reason"] == f"allowed for this kernel session by prompt {p['id']}", d[-1]
    uses = [e for e in audit(s) if e["resource"] == "secret SESSION_ONE"
            and "given to the kernel" in e["detail"]]
    assert len(uses) == 3, uses
    cell = Read(s, kid, "api.key")
    p2 = pending_prompt(s, kid, s.alice)
    assert p2["effect"] == "secret api.key"
    assert answer(s, p2["id"], "deny", s.alice).status_code == 200
    assert cell.result().startswith("error 403 ")
    # a restart is a new session: it asks again
    r = s.request("POST", f"/api/kernels/{kid}/restart", token=s.agent, timeout=120)
    assert r.status_code == 200, r.text
    s.wait_kernel_ready(kid, timeout=90)
    cell = Read(s, kid, "SESSION_ONE")
    p3 = pending_prompt(s, kid, s.alice)
    assert answer(s, p3["id"], "deny", s.alice).status_code == 200
    assert cell.result().startswith("error 403 ")
    assert_nowhere(s, kid)
    s.delete_kernel(kid)


def test_unanswered_prompt_times_out(tserver):
    s = tserver
    kid = agent_kernel(s)
    cell = Read(s, kid, "TIMEOUT_ONE")
    p = pending_prompt(s, kid, s.alice)
    out = cell.result()
    assert out == (f"error 403 cellgate secrets: secret TIMEOUT_ONE is denied: prompt {p['id']} "
                   "timed out: nobody answered it in time, which is a denial\n"), out
    assert s.request("GET", f"/api/cellgate/prompts/{p['id']}").json()["state"] == "timed_out"
    assert [x["decision"] for x in decisions(s, kid)] == ["prompt", "deny"]
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 409
    assert_nowhere(s, kid)
    assert b"intact" in cli(s, "audit", "verify").stdout
    s.delete_kernel(kid)


def no_prompt_for(s, kid):
    return not [x for x in s.request("GET", "/api/cellgate/prompts").json()
                if x.get("kernel") == kid]


def test_refused_at_once(sserver):
    """No prompt: a token whose effect= caveats do not name the secret (the
    same answer whether it exists or not), an unknown secret, a bad name,
    another method, CONNECT."""
    s = sserver
    narrow = mint(s, "agent", "effect=net:*,secret:api.key")
    kid = agent_kernel(s, narrow)
    ws = s.ws_connect(kid, token=narrow)
    for name in ("DB_PASSWORD", "NO_SUCH_ONE"):
        out = s.execute(kid, READ.format(name=name), timeout=120, ws=ws).stdout
        assert out == (f"error 403 cellgate secrets: secret {name} is denied: the token that "
                       f"started this kernel does not allow secret:{name}: the token allows "
                       "effect net:*,secret:api.key only\n"), out
    # what it names, and does not exist: 404, no prompt either
    cli(s, "secret", "delete", "api.key")
    out = s.execute(kid, READ.format(name="api.key"), timeout=120, ws=ws).stdout
    assert out == "error 404 cellgate secrets: there is no secret api.key\n", out
    r = s.request("PUT", "/api/cellgate/secrets/api.key", token=s.ops,
                  json={"value": VALUES["api.key"]})
    assert r.status_code == 201
    odd = '''
import http.client, socket
def ask(raw):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=60)
    s.sendall(raw)
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    return out.split(b"\\r\\n", 1)[0].decode() + " | " + out.split(b"\\r\\n\\r\\n", 1)[-1].decode().strip()
for raw in (b"GET http://secrets.cellgate/bad!name HTTP/1.1\\r\\nHost: secrets.cellgate\\r\\n\\r\\n",
            b"GET http://secrets.cellgate/ HTTP/1.1\\r\\nHost: secrets.cellgate\\r\\n\\r\\n",
            b"POST http://secrets.cellgate/api.key HTTP/1.1\\r\\nHost: secrets.cellgate\\r\\nContent-Length: 0\\r\\n\\r\\n",
            b"CONNECT secrets.cellgate:443 HTTP/1.1\\r\\nHost: secrets.cellgate:443\\r\\n\\r\\n"):
    print(ask(raw))
'''
    lines = s.execute(kid, odd, timeout=120, ws=ws).stdout.splitlines()
    assert lines[0].startswith("HTTP/1.1 400 ") and "a secret's name has only" in lines[0], lines
    assert lines[1].startswith("HTTP/1.1 400 "), lines
    assert lines[2].startswith("HTTP/1.1 405 "), lines
    assert lines[3].startswith("HTTP/1.1 400 ") and "not through CONNECT" in lines[3], lines
    ws.close()
    assert no_prompt_for(s, kid)
    d = decisions(s, kid)
    assert all(x["decision"] == "deny" for x in d), d
    assert any("refused: the token allows effect" in e["detail"] and
               e["resource"] == "secret:DB_PASSWORD" for e in audit(s))
    assert_nowhere(s, kid)
    s.delete_kernel(kid)
    assert s.alive()
