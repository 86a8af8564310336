"""The sandbox when the server is not root (setpriv to nobody): no cgroup it
may create on this machine, so memory and processes fall back to rlimits and
CPU time is read from /proc; the model and the log say so. The limits still
hold, the watcher still interrupts a cell past its quota, and egress still
goes through the relay and the broker.
"""
import http.server
import os
import shutil
import threading

import pytest

from conftest import NOBODY, REFERENCE, Server, cellgate_bin, free_port, run_server

pytestmark = pytest.mark.cellgate_only

HOST = "127.0.0.2"


class Unprivileged(Server):
    def __init__(self, extra_args):
        super().__init__(False, extra_args=extra_args)
        for root, dirs, files in os.walk(self.state):
            for name in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.chown(name, NOBODY, NOBODY)
        # an unprivileged server runs from where its user may read it, with
        # its relay beside it: the checkout may be a root's 0700 directory
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin, mode=0o755)
        for name in ("cellgate", "cellgate-egress-relay"):
            shutil.copy2(os.path.join(os.path.dirname(cellgate_bin()), name),
                         os.path.join(self.bin, name))

    def argv(self):
        own = super().argv()
        return [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}",
                "--clear-groups", os.path.join(self.bin, "cellgate")] + own[1:]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def service():
    httpd = http.server.HTTPServer((HOST, free_port()), Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def unpriv(service):
    if REFERENCE or os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to start the server as nobody, and setpriv")
    yield from run_server(Unprivileged([
        "--kernel-memory", "512M", "--kernel-cell-cpu", "3", "--kernel-nproc", "4096",
        "--egress-allow", f"{HOST}:{service}"]))


def test_rlimit_fallback_is_reported(unpriv):
    kid = unpriv.start_kernel()
    model = unpriv.request("GET", f"/api/kernels/{kid}").json()
    mech = model["limits"]["mechanism"]
    assert (mech["memory"], mech["processes"], mech["cell_cpu"]) == ("rlimit", "rlimit", "watch"), model
    log = open(unpriv.log_path).read()
    assert "cgroups: none we may create" in log, log[-2000:]
    assert f"{kid[:8]} limits (trusted): memory rlimit, processes rlimit" in log
    # the server runs as nobody, and so does the kernel
    out = unpriv.execute(kid, "import os\nprint(os.getuid())").stdout.strip()
    assert out == str(NOBODY), out
    assert os.stat(f"/proc/{unpriv.pid}").st_uid == NOBODY
    unpriv.delete_kernel(kid)


def test_memory_limit_and_cell_quota_hold(unpriv):
    kid = unpriv.start_kernel()
    out = unpriv.execute(kid, '''
try:
    x = bytearray(1 << 30)
    print("allocated")
except MemoryError:
    print("MemoryError")
''', timeout=60).stdout.strip()
    assert out == "MemoryError", out
    res = unpriv.execute(kid, "while True: pass", timeout=120, allow_error=True,
                         stop_on_error=False)
    assert res.reply["ename"] == "KeyboardInterrupt", res
    assert any("cellgate: cell cpu time limit" in m["content"].get("text", "")
               for m in res.msgs if m["header"]["msg_type"] == "stream"), res
    assert unpriv.execute(kid, "print('alive')").stdout.strip() == "alive"
    unpriv.delete_kernel(kid)


def test_egress_through_the_broker(unpriv, service):
    kid = unpriv.start_kernel()
    out = unpriv.execute(kid, f'''
import urllib.request
print(urllib.request.urlopen("http://{HOST}:{service}/", timeout=30).read().decode())
''', timeout=60).stdout.strip()
    assert out == "hello", out
    d = unpriv.request("GET", f"/api/cellgate/egress?kernel={kid}").json()["decisions"]
    assert [x["decision"] for x in d] == ["allow"], d
    unpriv.delete_kernel(kid)
