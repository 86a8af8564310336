"""Egress through the broker, with a loopback HTTP server on the host.

The sandbox has its own network namespace: the host's 127.0.0.2 is not
reachable from inside except through the relay's proxy (HTTP_PROXY), which
hands each connection to the server's broker. The server here allows only
the test service's port and denies *.invalid; every request made below must
show up, with its verdict and rule, in GET /api/cellgate/egress and in the
server log.
"""
import http.server
import socketserver
import threading

import pytest

from conftest import REFERENCE, Server, free_port, run_server

pytestmark = pytest.mark.cellgate_only

HOST = "127.0.0.2"
BODY = b"hello from the host loopback\n"
BIG = 6 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = BODY if self.path != "/big" else b"x" * BIG
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def service():
    port = free_port()
    httpd = ThreadingServer((HOST, port), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield port
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def egress(service):
    if REFERENCE:
        pytest.skip("cellgate only")
    yield from run_server(Server(REFERENCE, extra_args=[
        "--egress-allow", f"{HOST}:{service},localhost:{service}", "--egress-deny", "*.invalid",
        "--egress-max-bytes", "4M"]))


@pytest.fixture(scope="module")
def ekernel(egress):
    kid = egress.start_kernel()
    yield kid
    egress.delete_kernel(kid)


def decisions(server, kid):
    r = server.request("GET", f"/api/cellgate/egress?kernel={kid}")
    assert r.status_code == 200, r.text
    return r.json()["decisions"]


def test_proxy_environment(egress, ekernel):
    out = egress.execute(ekernel, "import os\nprint(os.environ['HTTP_PROXY'], "
                         "os.environ['https_proxy'], os.environ['NO_PROXY'])").stdout.split()
    assert out == ["http://127.0.0.1:3128", "http://127.0.0.1:3128", "localhost,127.0.0.1,::1"]


def test_allowed_get_through_the_proxy(egress, ekernel, service):
    out = egress.execute(ekernel, f'''
import urllib.request
print(urllib.request.urlopen("http://{HOST}:{service}/hello", timeout=30).read().decode(), end="")
''', timeout=60).stdout
    assert out == BODY.decode()
    d = decisions(egress, ekernel)[-1]
    assert (d["method"], d["host"], d["port"], d["decision"]) == ("GET", HOST, service, "allow"), d
    assert d["rule"] == f"egress-allow = {HOST}:{service}", d


def test_allowed_connect_tunnel(egress, ekernel, service):
    out = egress.execute(ekernel, f'''
import http.client
c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=30)
c.set_tunnel("{HOST}", {service})
c.request("GET", "/tunnel")
r = c.getresponse()
print(r.status, r.read().decode(), end="")
''', timeout=60).stdout
    assert out == "200 " + BODY.decode()
    d = decisions(egress, ekernel)[-1]
    assert (d["method"], d["host"], d["port"], d["decision"]) == ("CONNECT", HOST, service, "allow"), d


def test_denied_port_gets_a_clear_proxy_error(egress, ekernel, service):
    other = service + 1 if service < 65535 else service - 1
    out = egress.execute(ekernel, f'''
import urllib.request, urllib.error
try:
    urllib.request.urlopen("http://{HOST}:{other}/", timeout=30)
    print("reached")
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("X-Cellgate-Egress"), e.read().decode(), end="")
''', timeout=60).stdout
    assert out.startswith("403 denied cellgate egress: GET"), out
    assert "no egress-allow rule matches" in out, out
    d = decisions(egress, ekernel)[-1]
    assert (d["host"], d["port"], d["decision"], d["rule"]) == (HOST, other, "deny", None), d


def test_denied_name_is_never_resolved(egress, ekernel):
    # a name that does not resolve: had the broker looked it up first, the
    # answer would be 502 "cannot resolve"; a deny before DNS is a 403
    out = egress.execute(ekernel, '''
import http.client
c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=30)
c.set_tunnel("secret-name.invalid", 443)
try:
    c.request("GET", "/")
    print("tunnel")
except OSError as e:
    print(e)
''', timeout=60).stdout.strip()
    assert out == "Tunnel connection failed: 403 Forbidden", out
    d = decisions(egress, ekernel)[-1]
    assert (d["method"], d["host"], d["decision"], d["rule"]) == (
        "CONNECT", "secret-name.invalid", "deny", "egress-deny = *.invalid"), d
    log = open(egress.log_path).read()
    assert "resolve secret-name.invalid" not in log


def test_allowed_name_resolving_to_loopback_is_refused(egress, ekernel, service):
    # DNS rebinding: a name may not lead to the host's own loopback; only an
    # address rule (127.0.0.2 above) reaches it
    out = egress.execute(ekernel, f'''
import http.client
c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=30)
c.request("GET", "http://localhost:{service}/")
r = c.getresponse()
print(r.status, r.read().decode(), end="")
''', timeout=60).stdout
    assert out.startswith("403 cellgate egress: localhost resolves to a loopback"), out
    d = decisions(egress, ekernel)
    assert [x["decision"] for x in d[-2:]] == ["allow", "deny"], d[-2:]
    assert d[-1]["reason"] == "the name resolves to a loopback or link-local address", d[-1]


def test_direct_connection_without_the_proxy_fails(egress, ekernel, service):
    out = egress.execute(ekernel, f'''
import socket
for host in ("{HOST}", "127.0.0.1"):
    try:
        socket.create_connection((host, {service}), timeout=5)
        print("connected")
    except OSError as e:
        print(type(e).__name__)
''').stdout.split()
    assert out == ["ConnectionRefusedError", "ConnectionRefusedError"], out


def test_malformed_requests_and_the_server_keeps_serving(egress, ekernel):
    out = egress.execute(ekernel, '''
import socket
for req in (b"garbage\\r\\n\\r\\n", b"GET /relative HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
            b"GET http://user@h.example/ HTTP/1.1\\r\\n\\r\\n", b"X" * 20000):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=30)
    s.sendall(req)
    print(s.recv(100).split(b"\\r\\n")[0].decode())
    s.close()
''', timeout=60).stdout.split("\n")
    assert out[:4] == ["HTTP/1.1 400 Bad Request"] * 3 + ["HTTP/1.1 431 Request Header Fields Too Large"], out
    assert egress.alive()


def test_byte_limit_cuts_the_transfer(egress, service):
    kid = egress.start_kernel()
    out = egress.execute(kid, f'''
import urllib.request
try:
    data = urllib.request.urlopen("http://{HOST}:{service}/big", timeout=30).read()
    print("got", len(data))
except Exception as e:
    print("cut", type(e).__name__)
''', timeout=90).stdout.strip()
    assert out.startswith("cut"), out
    report = egress.request("GET", f"/api/cellgate/egress?kernel={kid}").json()
    assert report["bytes"] <= (4 << 20) + (1 << 17), report
    egress.delete_kernel(kid)


def test_every_decision_is_logged(egress, ekernel):
    ds = decisions(egress, ekernel)
    assert len(ds) >= 8, ds
    log = open(egress.log_path).read()
    for d in ds:
        assert f"{d['host']}:{d['port']} {d['decision']}" in log, d


def test_egress_api_errors(egress):
    r = egress.request("GET", "/api/cellgate/egress")
    assert r.status_code == 400 and r.json()["message"], r.text
    r = egress.request("GET", "/api/cellgate/egress?kernel=nope")
    assert r.status_code == 404 and r.json()["message"], r.text
    r = egress.request("GET", "/api/cellgate/egress?kernel=nope", token=None)
    assert r.status_code in (401, 403), r.text


def test_egress_after_a_restart(egress, service):
    kid = egress.start_kernel()
    r = egress.request("POST", f"/api/kernels/{kid}/restart")
    assert r.status_code == 200, r.text
    egress.wait_kernel_ready(kid)
    out = egress.execute(kid, f'''
import urllib.request
print(urllib.request.urlopen("http://{HOST}:{service}/", timeout=30).read().decode(), end="")
''', timeout=60).stdout
    assert out == BODY.decode()
    egress.delete_kernel(kid)
    # the kernel is gone, and so is its decision list
    r = egress.request("GET", f"/api/cellgate/egress?kernel={kid}")
    assert r.status_code == 404, r.text


def test_effects_are_in_the_record_of_the_cell_that_made_them(egress, service):
    """Each egress decision goes in the execution record of the cell that
    was running when it was made: the allowed fetch and the denied one in
    their own cells' records (provenance API, execution record, `cellgate
    log --cells`), none in the cells around them."""
    import os
    import subprocess
    import uuid

    from nbclient_ws import Notebook
    other = service + 1 if service < 65535 else service - 1
    nb = Notebook(egress, f"effects-{uuid.uuid4().hex[:8]}.ipynb", [
        ("setup", "import urllib.request, urllib.error"),
        ("fetch", f'print(urllib.request.urlopen("http://{HOST}:{service}/e", timeout=30).read().decode(), end="")'),
        ("denied", f'''try:
    urllib.request.urlopen("http://{HOST}:{other}/", timeout=30)
except urllib.error.HTTPError as e:
    print(e.code)'''),
        ("after", "1 + 1")])
    try:
        for cid in ("setup", "fetch", "denied", "after"):
            assert nb.run(cid, timeout=90)["status"] == "ok", cid
        assert nb.cell("fetch")["outputs"][0]["text"] == BODY.decode()
        assert nb.cell("denied")["outputs"][0]["text"] == "403\n"
        v = nb.save()
        r = egress.request("GET", "/api/cellgate/provenance/" + nb.path, params={"version": v})
        assert r.status_code == 200, r.text
        cells = {c["cell_id"]: c for c in r.json()["cells"]}
        eff = {cid: cells[cid]["execution"]["effects"] for cid in cells}
        assert eff["setup"] == [] and eff["after"] == [], eff
        [allowed] = eff["fetch"]
        assert allowed["effect"] == "network" and allowed["destination"] == f"{HOST}:{service}"
        assert allowed["decision"] == "allow" and allowed["rule"] == f"egress-allow = {HOST}:{service}"
        assert allowed["decided_by"] == "policy" and allowed["method"] == "GET"
        e = cells["fetch"]["execution"]
        assert e["requested"] <= allowed["at"] <= e["ended"], (e, allowed)
        [denied] = eff["denied"]
        assert (denied["destination"], denied["decision"], denied["rule"]) == (
            f"{HOST}:{other}", "deny", None), denied
        assert denied["reason"] == "no rule allows it"
        # the record by id says the same
        rec = egress.request("GET", "/api/cellgate/execution/" + e["id"]).json()
        assert rec["effects"] == eff["fetch"]
        out = subprocess.run([os.environ.get("CELLGATE_BIN", "bin/cellgate"), "log", "--cells",
                              nb.path, "--version", v, "--state", egress.state],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = {ln.split()[0]: ln for ln in out.stdout.splitlines() if ln.strip()}
        assert f"effects: network allow {HOST}:{service}" in lines["fetch"], out.stdout
        assert f"effects: network deny {HOST}:{other}" in lines["denied"], out.stdout
        assert "effects" not in lines["after"], out.stdout
    finally:
        nb.close()


def _replay(server, path, **body):
    import time
    r = server.request("POST", "/api/cellgate/replays", json={"path": path, **body})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    end = time.monotonic() + 300
    while time.monotonic() < end:
        st = server.request("GET", f"/api/cellgate/replays/{rid}").json()
        if st["state"] != "running":
            return st
        time.sleep(0.3)
    raise TimeoutError(rid)


def test_replay_skips_an_ungranted_effect_and_runs_a_granted_one(egress, service):
    """A recorded execution that reached the network is not re-run unless the
    replay grants that destination: without the grant its cell is skipped
    (the reason names the effect) and the cells after it run, saying that an
    earlier one was skipped; with it, the replay kernel reaches exactly that
    destination (its decision names the grant) and everything reproduces.
    The replay kernel gets nothing of the server's egress rules."""
    import os
    import sqlite3
    import subprocess
    import time
    import uuid

    from nbclient_ws import Notebook
    other = service + 1 if service < 65535 else service - 1
    fetch = f'print(urllib.request.urlopen("http://{HOST}:{service}/r", timeout=30).read().decode(), end="")'
    nb = Notebook(egress, f"effects-replay-{uuid.uuid4().hex[:8]}.ipynb", [
        ("setup", "import urllib.request, urllib.error\nx = 2"),
        ("fetch", fetch),
        ("denied", f'''try:
    urllib.request.urlopen("http://{HOST}:{other}/", timeout=30)
except urllib.error.HTTPError as e:
    print(e.code)'''),
        ("after", "x * 21")])
    grant = f"network:{HOST}:{service}"
    try:
        for cid in ("setup", "fetch", "denied", "after"):
            assert nb.run(cid, timeout=90)["status"] == "ok", cid
        nb.save()
        st = _replay(egress, nb.path)
        assert st["state"] == "done", st
        cells = {c["cell_id"]: c for c in st["report"]["cells"]}
        assert cells["fetch"]["verdict"] == "skipped", cells["fetch"]
        assert grant in cells["fetch"]["reason"] and "not granted" in cells["fetch"]["reason"]
        assert cells["fetch"]["replayed"] is None
        # a denied effect needs no grant: the replay is denied it too, and reproduces
        assert cells["denied"]["verdict"] == "reproduced", cells["denied"]
        assert cells["after"]["verdict"] == "reproduced", cells["after"]
        assert "(cell fetch) was skipped" in cells["after"]["upstream_skipped"]
        assert "upstream_skipped" not in cells["setup"]
        assert st["report"]["grant"] == [] and st["verdict"] == "not_reproduced"

        st = _replay(egress, nb.path, grant=[grant])
        assert st["verdict"] == "reproduced", st["report"]["cells"]
        assert st["report"]["grant"] == [grant]
        assert {c["cell_id"]: c["verdict"] for c in st["report"]["cells"]} == dict.fromkeys(
            ("setup", "fetch", "denied", "after"), "reproduced")
        # the replay kernel's own records: the grant allowed the fetch, the
        # server's rules did not apply (the denied port has no rule anyway)
        # (records are written in batches: wait for the replay kernel's)
        end = time.monotonic() + 60
        while True:
            con = sqlite3.connect(f"file:{os.path.join(egress.state, 'store.sqlite')}?mode=ro", uri=True)
            ids = [r[0] for r in con.execute("SELECT id FROM executions WHERE principal = 'replay' "
                                             "ORDER BY seq DESC LIMIT 4")]
            con.close()
            recs = {r["code"]: r for r in (egress.request("GET", "/api/cellgate/execution/" + i).json()
                                           for i in ids)}
            if fetch in recs or time.monotonic() > end:
                break
            time.sleep(0.3)
        [eff] = recs[fetch]["effects"]
        assert (eff["destination"], eff["decision"], eff["rule"]) == (
            f"{HOST}:{service}", "allow", f"grant {grant}"), eff
        assert recs[fetch]["session"]["sandbox"]["class"] == "replay"

        # the CLI: --grant, and exit 1 without it
        bin_ = os.environ.get("CELLGATE_BIN", "bin/cellgate")
        base = [bin_, "replay", nb.path, "--state", egress.state, "--root", egress.workspace,
                "--kernelspec-dir", egress.kernelspec_dir]
        out = subprocess.run(base, capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and "skipped" in out.stdout and grant in out.stdout, out
        out = subprocess.run(base + ["--grant", grant], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        out = subprocess.run(base + ["--grant", "network:nohost"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2 and "--grant" in out.stderr, out
    finally:
        nb.close()


@pytest.mark.parametrize("grant", [["network:host"], ["file:/etc/passwd"], "network:h:1",
                                   ["network:h:0"], ["network:h:70000"], [7], ["network:a b:80"],
                                   ["network:h:1"] * 17])
def test_bad_replay_grants(egress, grant):
    nb_path = "no-such.ipynb"
    r = egress.request("POST", "/api/cellgate/replays", json={"path": nb_path, "grant": grant})
    assert r.status_code == 400, r.text
    assert "grant" in r.json()["message"], r.text
    assert egress.alive()
