"""Effect prompts end to end: an egress-ask rule holds a cell's connection
until a person answers; a cell past its CPU quota waits for a person to
extend it or interrupt it (--cell-cpu-extend).

A real ipykernel in bubblewrap fetches a page from a loopback HTTP server on
the host (127.0.0.2, reached through the in-sandbox proxy and the server's
broker). The kernel was started, and the cell sent, by an agent's
capability token; the broker holds the connection and raises a prompt in
the agent's name. Meanwhile the agent sees its prompt as "pending" (not a
failure, not a success) and a second client, a researcher who may approve,
lists the prompts and answers: allow once, allow for the kernel session,
deny; a second server with a short --prompt-timeout lets one time out.
Every step is in the egress decision log and the audit log, and `cellgate
audit verify` passes.
"""
import http.client
import json
import os
import queue
import threading
import time

import pytest

from conftest import REFERENCE, Server, run_server
from test_egress import BODY, HOST, service  # noqa: F401  (the loopback service fixture)
from test_policy import cli, mint

pytestmark = pytest.mark.cellgate_only

POLICY = {"principals": {
    "agent": {"kind": "agent", "actions": ["read", "write", "execute"], "paths": ["nb"]},
    "alice": {"kind": "researcher", "actions": ["read", "approve"]},
    "carol": {"kind": "researcher", "actions": ["read"]},
}}


def policy_server(service_port, *extra):
    s = Server(REFERENCE, extra_args=["--egress-ask", f"{HOST}:{service_port}",
                                      "--kernel-cell-cpu", "2", "--cell-cpu-extend", "3", *extra])
    s.policy_file = os.path.join(s.tmp, "policy.json")
    with open(s.policy_file, "w") as f:
        json.dump(POLICY, f)
    s.extra_args += ["--policy", s.policy_file]
    return s


def setup_tokens(s):
    r = s.request("PUT", "/api/contents/nb", json={"type": "directory"})
    assert r.status_code in (200, 201), r.text
    s.agent = mint(s, "agent")
    s.alice = mint(s, "alice")
    s.carol = mint(s, "carol")


@pytest.fixture(scope="module")
def aserver(service):  # noqa: F811
    if REFERENCE:
        pytest.skip("cellgate only")
    s = policy_server(service)
    for srv in run_server(s):
        setup_tokens(srv)
        yield srv


@pytest.fixture(scope="module")
def tserver(service):  # noqa: F811
    if REFERENCE:
        pytest.skip("cellgate only")
    s = policy_server(service, "--prompt-timeout", "3")
    for srv in run_server(s):
        setup_tokens(srv)
        yield srv


def agent_kernel(s):
    r = s.request("POST", "/api/kernels", token=s.agent, json={"name": "python3", "path": "nb"})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    s._kernels.add(kid)
    s.wait_kernel_ready(kid, timeout=90)
    return kid


FETCH = '''
import urllib.request, urllib.error
try:
    print("body", urllib.request.urlopen("http://{host}:{port}/{page}", timeout=200).read().decode(), end="")
except urllib.error.HTTPError as e:
    print("error", e.code, e.headers.get("X-Cellgate-Egress"), e.read().decode(), end="")
'''


class Cell:
    """A cell the agent runs over its own channels, in a thread: it blocks
    while the broker holds its connection."""

    def __init__(self, s, kid, port, page="x"):
        self.out = None
        self.error = None
        self.ws = s.ws_connect(kid, token=s.agent)
        code = FETCH.format(host=HOST, port=port, page=page)

        def run():
            try:
                self.out = s.execute(kid, code, timeout=240, ws=self.ws,
                                     cell_id=f"cell-{page}").stdout
            except Exception as e:  # reported by result()
                self.error = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def result(self, timeout=240):
        self.t.join(timeout)
        self.ws.close()
        assert not self.t.is_alive(), "the cell did not finish"
        assert self.error is None, self.error
        return self.out


def pending_prompt(s, kid, token, timeout=120):
    """The pending effect prompt of kernel kid, as token sees it (waits)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = s.request("GET", "/api/cellgate/prompts?wait=30", token=token, timeout=60)
        assert r.status_code == 200, r.text
        for p in r.json():
            if p.get("kernel") == kid and p["state"] == "pending":
                return p
        time.sleep(0.2)
    raise AssertionError(f"no pending prompt for kernel {kid}")


def answer(s, pid, what, token):
    return s.request("POST", f"/api/cellgate/prompts/{pid}", token=token, json={"answer": what})


def decisions(s, kid):
    r = s.request("GET", f"/api/cellgate/egress?kernel={kid}")
    assert r.status_code == 200, r.text
    return r.json()["decisions"]


def audit(s):
    return [json.loads(line) for line in
            cli(s, "audit", "log", "--json").stdout.decode().splitlines()]


def test_allow_once_then_deny(aserver, service):  # noqa: F811
    s = aserver
    kid = agent_kernel(s)
    cell = Cell(s, kid, service, "once")
    p = pending_prompt(s, kid, s.alice)
    assert p["action"] == "effect" and p["effect"] == f"network {HOST}:{service}", p
    assert p["principal"] == "agent" and p["path"] == "nb", p
    assert p["request"] == f"GET http://{HOST}:{service}/once", p
    # the cell's execute_request, as the kernel reports it
    assert p.get("execution"), p
    # the agent sees the same prompt as its own status: pending
    mine = s.request("GET", "/api/cellgate/prompts?state=pending", token=s.agent).json()
    assert [x["id"] for x in mine if x.get("kernel") == kid] == [p["id"]]
    one = s.request("GET", f"/api/cellgate/prompts/{p['id']}", token=s.agent)
    assert one.status_code == 200 and one.json()["state"] == "pending"
    assert cell.t.is_alive(), "the cell finished while its connection was held"
    assert decisions(s, kid)[-1]["decision"] == "prompt"
    # nobody answers their own prompt
    assert answer(s, p["id"], "allow_once", s.agent).status_code == 403
    r = answer(s, p["id"], "allow_once", s.alice)
    assert r.status_code == 200, r.text
    assert cell.result() == "body " + BODY.decode()
    assert s.request("GET", f"/api/cellgate/prompts/{p['id']}", token=s.agent).json()["state"] == "used"
    d = decisions(s, kid)
    assert [x["decision"] for x in d[-2:]] == ["prompt", "allow"], d
    assert "allowed once by alice" in d[-1]["reason"], d[-1]
    assert d[-1]["rule"] == f"egress-ask = {HOST}:{service}", d[-1]

    # allow once was that connection's: the next one asks again; deny it
    cell = Cell(s, kid, service, "again")
    p2 = pending_prompt(s, kid, s.alice)
    assert p2["id"] != p["id"]
    assert answer(s, p2["id"], "deny", s.alice).status_code == 200
    out = cell.result()
    assert out.startswith("error 403 denied cellgate egress: GET"), out
    assert f"alice answered prompt {p2['id']}: deny" in out, out
    assert decisions(s, kid)[-1]["decision"] == "deny"
    # an answer to a settled prompt is refused
    assert answer(s, p2["id"], "allow_once", s.alice).status_code == 409

    entries = [e for e in audit(s) if e["action"] == "effect"]
    mine = [e for e in entries if p["id"] in e["detail"]]
    assert [e["decision"] for e in mine] == ["prompt", "allow"], mine
    assert all(e["principal"] == "agent" for e in mine), mine
    theirs = [e for e in entries if p2["id"] in e["detail"]]
    assert [e["decision"] for e in theirs] == ["prompt", "deny"], theirs
    # the answers themselves, by the approver
    answers = [e for e in audit(s) if e["action"] == "approve" and e["principal"] == "alice"]
    assert any(p["id"] in e["detail"] and e["decision"] == "allow" for e in answers)
    assert any(p2["id"] in e["detail"] and e["decision"] == "deny" for e in answers)
    assert b"intact" in cli(s, "audit", "verify").stdout


def test_allow_for_the_kernel_session(aserver, service):  # noqa: F811
    s = aserver
    kid = agent_kernel(s)
    cell = Cell(s, kid, service, "first")
    p = pending_prompt(s, kid, s.alice)
    assert answer(s, p["id"], "allow_session", s.alice).status_code == 200
    assert cell.result() == "body " + BODY.decode()
    # later connections of this kernel to the same place do not ask
    out = s.execute(kid, FETCH.format(host=HOST, port=service, page="second"), timeout=120).stdout
    assert out == "body " + BODY.decode()
    d = decisions(s, kid)
    assert [x["decision"] for x in d] == ["prompt", "allow", "allow"], d
    assert d[-1]["reason"] == f"allowed for this kernel session by prompt {p['id']}", d[-1]
    assert not [x for x in s.request("GET", "/api/cellgate/prompts?state=pending",
                                     token=s.alice).json() if x.get("kernel") == kid]
    # another kernel is another session: it asks
    other = agent_kernel(s)
    cell = Cell(s, other, service, "other")
    p2 = pending_prompt(s, other, s.alice)
    assert answer(s, p2["id"], "deny", s.alice).status_code == 200
    assert cell.result().startswith("error 403")
    uses = [e for e in audit(s) if e["action"] == "effect" and e["decision"] == "allow"
            and f"kernel {kid}" in e["detail"]]
    assert len(uses) == 2 and "allowed for this kernel session" in uses[-1]["detail"], uses
    # a restart is a new kernel session: it asks again
    r = s.request("POST", f"/api/kernels/{kid}/restart", token=s.agent, timeout=120)
    assert r.status_code == 200, r.text
    s.wait_kernel_ready(kid, timeout=90)
    cell = Cell(s, kid, service, "restarted")
    p3 = pending_prompt(s, kid, s.alice)
    assert answer(s, p3["id"], "deny", s.alice).status_code == 200
    assert cell.result().startswith("error 403")
    assert b"intact" in cli(s, "audit", "verify").stdout
    s.delete_kernel(other)
    s.delete_kernel(kid)


def test_unanswered_prompt_times_out(tserver, service):  # noqa: F811
    s = tserver
    kid = agent_kernel(s)
    cell = Cell(s, kid, service, "late")
    p = pending_prompt(s, kid, s.alice)
    out = cell.result()
    assert out.startswith("error 403 denied cellgate egress: GET"), out
    assert f"prompt {p['id']} timed out" in out, out
    got = s.request("GET", f"/api/cellgate/prompts/{p['id']}", token=s.agent).json()
    assert got["state"] == "timed_out", got
    d = decisions(s, kid)
    assert [x["decision"] for x in d] == ["prompt", "deny"], d
    entries = [e for e in audit(s) if p["id"] in e["detail"]]
    assert [e["decision"] for e in entries] == ["prompt", "deny", "deny"], entries
    assert "timed out" in entries[1]["detail"]
    assert b"intact" in cli(s, "audit", "verify").stdout
    # an answer after the timeout changes nothing
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 409
    assert s.alive()


class Events:
    """GET /api/cellgate/events read line by line by a plain HTTP client,
    in a thread: every event and comment, in order."""

    def __init__(self, s, token, query="", last_event_id=None):
        self.c = http.client.HTTPConnection(s.host, s.port, timeout=300)
        headers = {"Authorization": f"token {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.c.request("GET", "/api/cellgate/events" + query, headers=headers)
        self.last_id = None
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.headers = {k.lower(): v for k, v in self.r.getheaders()}
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        event = None
        try:
            while True:
                line = self.r.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith(":"):
                    self.q.put(("comment", line))
                elif line.startswith("id: "):
                    self.last_id = line[4:]
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    data["_event_id"] = self.last_id
                    self.q.put((event, data))
        except OSError:
            pass
        self.q.put(("closed", None))

    def next(self, pred, timeout=120):
        """The first item after those read so far that pred accepts."""
        end = time.monotonic() + timeout
        while True:
            item = self.q.get(timeout=max(0.1, end - time.monotonic()))
            if pred(*item):
                return item
            if item[0] == "closed":
                raise AssertionError("the stream closed")

    def seen(self):
        out = []
        while not self.q.empty():
            out.append(self.q.get())
        return out

    def close(self):
        self.c.close()


def test_event_stream_pushes_prompts(aserver, service):  # noqa: F811
    s = aserver
    bad = Events(s, "cg1.not-a-token")
    assert bad.status == 403
    bad = Events(s, s.alice, "?duration=0")
    assert bad.status == 400
    alice = Events(s, s.alice)
    assert alice.status == 200 and alice.headers["content-type"] == "text/event-stream"
    agent = Events(s, s.agent)
    carol = Events(s, s.carol)  # may neither answer nor asked: sees nothing
    for e in (alice, agent, carol):
        assert e.next(lambda k, v: k == "comment")[1] == ": cellgate prompts"
    kid = agent_kernel(s)
    cell = Cell(s, kid, service, "pushed")
    _, p = alice.next(lambda k, v: k == "prompt" and v.get("kernel") == kid)
    assert p["state"] == "pending" and p["effect"] == f"network {HOST}:{service}", p
    # the asker's own stream has it too, as pending
    _, mine = agent.next(lambda k, v: k == "prompt")
    assert (mine["id"], mine["state"]) == (p["id"], "pending")
    # a stream opened now gets what is pending at once
    late = Events(s, s.alice)
    _, again = late.next(lambda k, v: k == "prompt")
    assert (again["id"], again["state"]) == (p["id"], "pending")
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 200
    for e in (alice, agent, late):
        _, settled = e.next(lambda k, v: k == "prompt" and v["id"] == p["id"] and v["state"] != "pending")
        # the broker takes the allow before the streams hear of the answer
        assert settled["state"] == "used" and settled["answered_by"] == "alice", settled
    assert cell.result() == "body " + BODY.decode()
    # kept alive while nothing happens
    assert alice.next(lambda k, v: k == "comment" and v == ": keep-alive", timeout=60)
    assert not [x for x in carol.seen() if x[0] == "prompt"]
    # ?duration= ends the stream
    short = Events(s, s.alice, "?duration=2")
    assert short.next(lambda k, v: k == "closed", timeout=30)
    for e in (alice, agent, carol, late):
        e.close()
    s.delete_kernel(kid)
    assert s.alive()


def test_event_stream_resumes_from_last_event_id(aserver, service):  # noqa: F811
    """A client that reconnects with Last-Event-ID (as EventSource does)
    hears what changed while it was away, settled prompts included, in
    order; an id of another server run, or a malformed one, gets what is
    pending, as a new client does."""
    s = aserver
    alice = Events(s, s.alice)
    assert alice.next(lambda k, v: k == "comment")[1] == ": cellgate prompts"
    kid = agent_kernel(s)
    cell = Cell(s, kid, service, "resumed")
    _, p = alice.next(lambda k, v: k == "prompt" and v.get("kernel") == kid)
    # the prompt names the notebook cell (the request's cellId) beside the kernel
    assert p["cell"] == "cell-resumed" and p["path"] == "nb", p
    heard = p["_event_id"]
    run, seq = heard.split("-")
    assert int(seq) > 0, heard
    alice.close()
    # settled while nobody listens
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 200
    assert cell.result() == "body " + BODY.decode()
    back = Events(s, s.alice, last_event_id=heard)
    _, missed = back.next(lambda k, v: k == "prompt")
    assert (missed["id"], missed["state"]) == (p["id"], "used"), missed
    r2, seq2 = missed["_event_id"].split("-")
    assert r2 == run and int(seq2) > int(seq)
    # the same through the query, for clients that cannot set the header
    q = Events(s, s.alice, f"?last_event_id={heard}")
    _, missed = q.next(lambda k, v: k == "prompt")
    assert (missed["id"], missed["state"]) == (p["id"], "used"), missed
    # nothing else was missed: the next item is the keep-alive, not a prompt
    assert back.next(lambda k, v: k in ("comment", "prompt"), timeout=60) == ("comment", ": keep-alive")
    # another run's id, a malformed one, one ahead of the count: only what is pending
    for bad in (f"{int(run) + 1}-0", "x", f"{run}-999999", f"{run}--1"):
        e = Events(s, s.alice, "?duration=2", last_event_id=bad)
        assert e.status == 200
        seen = []
        e.next(lambda k, v: seen.append((k, v)) or k == "closed", timeout=30)
        assert not [v for k, v in seen if k == "prompt" and v["state"] != "pending"], (bad, seen)
        e.close()
    for e in (back, q):
        e.close()
    s.delete_kernel(kid)
    assert s.alive()


def test_agent_sees_pending_not_failure_nor_success(aserver, service):  # noqa: F811
    """An agent's cell whose effect waits on a person: no execute_reply, the
    kernel busy, and the prompt, naming the agent's own execute_request,
    pending at the prompts API for the agent's token. Then the answer
    decides how the cell ends."""
    s = aserver
    kid = agent_kernel(s)
    ws = s.ws_connect(kid, token=s.agent)
    try:
        mid = ws.send("shell", "execute_request", {
            "code": f'import urllib.request\nurllib.request.urlopen("http://{HOST}:{service}/agent", '
                    'timeout=200).read()',
            "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": False})
        ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                      and m["parent_header"].get("msg_id") == mid
                      and m["content"]["execution_state"] == "busy", 60)
        p = pending_prompt(s, kid, s.agent)
        assert p["execution"] == mid, p
        # held a while on its prompt: still pending, for the agent too
        r = s.request("GET", f"/api/cellgate/prompts/{p['id']}?wait=2", token=s.agent)
        assert r.status_code == 200 and r.json()["state"] == "pending", r.text
        mine = s.request("GET", "/api/cellgate/prompts?state=pending", token=s.agent).json()
        assert [x["id"] for x in mine] == [p["id"]], mine
        assert s.request("GET", f"/api/kernels/{kid}", token=s.agent).json()["execution_state"] == "busy"
        # nothing on the channels says the cell ended, one way or the other
        while True:
            m = ws.recv(timeout=1)
            if m is None:
                break
            assert m["parent_header"].get("msg_id") != mid or m["header"]["msg_type"] not in (
                "execute_reply", "error"), m
        assert answer(s, p["id"], "deny", s.alice).status_code == 200
        reply, seen = ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                                    and m["parent_header"].get("msg_id") == mid, 120)
        # the code ends as the denial makes it: urlopen raises HTTPError 403
        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "HTTPError", reply["content"]
        assert "403" in reply["content"]["evalue"], reply["content"]
    finally:
        ws.close()
    s.delete_kernel(kid)


# ------------------------------------------------------------------ time quota

BURN = """
import os, time
t = time.process_time()
while time.process_time() - t < 2.5:
    pass
print("burnt", flush=True)
while not os.path.exists({flag!r}):
    time.sleep(0.1)
print("done")
"""


class QuotaCell:
    """A cell past its 2 s quota (2.5 s of CPU), then waiting for a flag file."""

    def __init__(self, s, kid):
        import uuid
        # inside nb/: the agent's kernel sees only the paths its token allows
        self.flag = os.path.join(s.workspace, "nb", "flag-" + uuid.uuid4().hex[:8])
        self.res = self.error = None
        self.ws = s.ws_connect(kid, token=s.agent)

        def run():
            try:
                self.res = s.execute(kid, BURN.format(flag=self.flag), timeout=240, ws=self.ws,
                                     allow_error=True, stop_on_error=False)
            except Exception as e:  # reported by result()
                self.error = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def release(self):
        open(self.flag, "w").close()

    def result(self):
        self.t.join(240)
        self.ws.close()
        assert not self.t.is_alive() and self.error is None, self.error
        return self.res

    def notes(self):
        return "".join(m["content"].get("text", "") for m in self.res.msgs
                       if m["header"]["msg_type"] == "stream")


def test_cell_quota_extended_or_interrupted(aserver):
    s = aserver
    kid = agent_kernel(s)
    cell = QuotaCell(s, kid)
    p = pending_prompt(s, kid, s.alice)
    assert p["effect"] == "time +3 s of CPU for a cell" and p["principal"] == "agent", p
    assert p["request"] == "a cell used its 2 s of CPU time: extend or interrupt", p
    assert p.get("execution"), p
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 200
    cell.release()
    res = cell.result()
    assert res.reply["status"] == "ok", res
    assert "burnt\ndone" in res.stdout, res
    assert "alice extended this cell's quota by 3 s of CPU time" in cell.notes(), cell.notes()

    # denied: interrupted as without a prompt
    cell = QuotaCell(s, kid)
    p2 = pending_prompt(s, kid, s.alice)
    assert answer(s, p2["id"], "deny", s.alice).status_code == 200
    res = cell.result()
    assert res.reply["status"] == "error" and res.reply["ename"] == "KeyboardInterrupt", res
    assert "alice: no more CPU time for this cell; it is interrupted" in cell.notes()
    entries = [e for e in audit(s) if e["action"] == "effect" and e["resource"].startswith("time ")]
    assert [e["decision"] for e in entries if p["id"] in e["detail"]] == ["prompt", "allow"]
    assert [e["decision"] for e in entries if p2["id"] in e["detail"]] == ["prompt", "deny"]
    assert b"intact" in cli(s, "audit", "verify").stdout
    s.delete_kernel(kid)


def test_cell_quota_allowed_for_the_session(aserver):
    s = aserver
    kid = agent_kernel(s)
    cell = QuotaCell(s, kid)
    p = pending_prompt(s, kid, s.alice)
    assert answer(s, p["id"], "allow_session", s.alice).status_code == 200
    cell.release()
    assert cell.result().reply["status"] == "ok"
    # the next overrun of this kernel is extended without asking
    cell = QuotaCell(s, kid)
    cell.release()
    res = cell.result()
    assert res.reply["status"] == "ok", res
    assert "an allow for this kernel session extended" in cell.notes(), cell.notes()
    assert not [x for x in s.request("GET", "/api/cellgate/prompts?state=pending",
                                     token=s.alice).json() if x.get("kernel") == kid]
    s.delete_kernel(kid)


def test_cell_quota_prompt_times_out(tserver):
    s = tserver
    kid = agent_kernel(s)
    cell = QuotaCell(s, kid)
    p = pending_prompt(s, kid, s.alice)
    res = cell.result()
    assert res.reply["status"] == "error" and res.reply["ename"] == "KeyboardInterrupt", res
    assert "nobody answered in time: no more CPU time" in cell.notes(), cell.notes()
    got = s.request("GET", f"/api/cellgate/prompts/{p['id']}", token=s.agent).json()
    assert got["state"] == "timed_out", got
    # the kernel lives on
    assert s.execute(kid, "print(1)").stdout.strip() == "1"
    s.delete_kernel(kid)


def settled(s, pid, token):
    r = s.request("GET", f"/api/cellgate/prompts/{pid}?wait=60", token=token, timeout=90)
    assert r.status_code == 200, r.text
    return r.json()


def test_interrupted_cell_withdraws_its_egress_prompt(aserver, service):  # noqa: F811
    s = aserver
    kid = agent_kernel(s)
    ws = s.ws_connect(kid, token=s.agent)
    try:
        mid = ws.send("shell", "execute_request", {
            "code": f'import urllib.request\nurllib.request.urlopen("http://{HOST}:{service}/gone", '
                    'timeout=200).read()',
            "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": False})
        p = pending_prompt(s, kid, s.alice)
        assert p["execution"] == mid
        r = s.request("POST", f"/api/kernels/{kid}/interrupt", token=s.agent)
        assert r.status_code == 204, r.text
        reply, _ = ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                                 and m["parent_header"].get("msg_id") == mid, 120)
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
    finally:
        ws.close()
    got = settled(s, p["id"], s.agent)
    assert got["state"] == "withdrawn", got
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 409
    d = decisions(s, kid)[-1]
    assert d["decision"] == "deny" and "withdrawn" in d["reason"], d
    assert any(e["decision"] == "withdrawn" and p["id"] in e["detail"] for e in audit(s))
    s.delete_kernel(kid)


def test_cell_that_ends_first_withdraws_its_quota_prompt(aserver):
    s = aserver
    kid = agent_kernel(s)
    cell = QuotaCell(s, kid)
    p = pending_prompt(s, kid, s.alice)
    cell.release()
    assert cell.result().reply["status"] == "ok"
    assert settled(s, p["id"], s.agent)["state"] == "withdrawn"
    assert answer(s, p["id"], "allow_once", s.alice).status_code == 409
    s.delete_kernel(kid)


def test_starting_token_effect_caveats_narrow_egress(aserver, service):  # noqa: F811
    """A token's effect= caveats bind what its kernel may reach: outside
    them, a denial before any prompt; inside, the rules (here: ask) decide."""
    s = aserver
    for caveat, asks in ((f"effect=net:{HOST}:1", False), (f"effect=net:{HOST}:*", True)):
        token = mint(s, "agent", caveat)
        r = s.request("POST", "/api/kernels", token=token, json={"name": "python3", "path": "nb"})
        assert r.status_code == 201, r.text
        kid = r.json()["id"]
        s._kernels.add(kid)
        s.wait_kernel_ready(kid, timeout=90)
        ws = s.ws_connect(kid, token=token)
        code = FETCH.format(host=HOST, port=service, page="caveat")
        if not asks:
            out = s.execute(kid, code, timeout=120, ws=ws).stdout
            assert out.startswith("error 403 denied cellgate egress: GET"), out
            assert f"does not allow net:{HOST}:{service}" in out, out
            assert f"the token allows effect net:{HOST}:1 only" in out, out
            d = decisions(s, kid)
            assert [x["decision"] for x in d] == ["deny"], d
            assert not [x for x in s.request("GET", "/api/cellgate/prompts", token=s.alice).json()
                        if x.get("kernel") == kid]
        else:
            res = {}
            t = threading.Thread(target=lambda: res.update(
                out=s.execute(kid, code, timeout=200, ws=ws).stdout), daemon=True)
            t.start()
            p = pending_prompt(s, kid, s.alice)
            assert answer(s, p["id"], "deny", s.alice).status_code == 200
            t.join(200)
            assert res["out"].startswith("error 403"), res
        ws.close()
        s.delete_kernel(kid)
    assert any(e["decision"] == "deny" and "refused: the token allows effect" in e["detail"]
               for e in audit(s))
