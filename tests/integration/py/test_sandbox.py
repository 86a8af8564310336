"""The kernel sandbox, seen from inside a kernel and from the host.

Code runs in the kernel and prints its findings as one JSON line; the
assertions are made here. The sandbox tests are cellgate only; the two
lifecycle tests at the end (a kernel that exits at once, the process tree
after DELETE) hold for any server and run on the reference too.
"""
import json
import os
import time
import uuid

import pytest

from conftest import FALSE_KERNEL, alive_procs, kernel_descendants

cellgate_only = pytest.mark.cellgate_only


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def probe(server, kernel, body, **kw):
    """Runs body (which fills dict `out`) in the kernel; returns out."""
    code = "import json, os, socket, errno\nout = {}\n" + body + "\nprint(json.dumps(out))\n"
    return server.execute(kernel, code, **kw).json()


TRY = '''
def attempt(fn):
    try:
        r = fn()
        return {"ok": True, "value": r}
    except BaseException as e:
        return {"ok": False, "error": type(e).__name__ + ": " + str(e)}
'''


@cellgate_only
def test_no_network(server, kernel):
    out = probe(server, kernel, TRY + f'''
def conn(addr):
    s = socket.create_connection(addr, timeout=3)
    s.close()
    return "connected"
out["internet"] = attempt(lambda: conn(("1.1.1.1", 80)))
out["server"] = attempt(lambda: conn(("127.0.0.1", {server.port})))
out["dns"] = attempt(lambda: socket.getaddrinfo("debian.org", 80))
out["ifaces"] = [n for _, n in socket.if_nameindex()]
out["udp"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("1.1.1.1", 53)))
''')
    assert not out["internet"]["ok"], out
    assert not out["server"]["ok"], out  # the server's own port is on the host's loopback, not ours
    assert not out["udp"]["ok"], out
    assert out["ifaces"] == ["lo"], out
    assert server.alive()


@cellgate_only
def test_filesystem_confinement(server, kernel):
    name = f"probe-{uuid.uuid4().hex}.txt"
    tmpname = f"cg-itest-{uuid.uuid4().hex}"
    parent = os.path.dirname(server.workspace)
    out = probe(server, kernel, TRY + f'''
def write(p):
    with open(p, "w") as f:
        f.write("hello from the kernel")
    return p
out["cwd"] = os.getcwd()
out["etc"] = attempt(lambda: write("/etc/cg-itest-x"))
out["root"] = attempt(lambda: write("/root/cg-itest-x"))
out["var_tmp"] = attempt(lambda: write("/var/tmp/cg-itest-x"))
out["usr"] = attempt(lambda: write("/usr/cg-itest-x"))
out["parent"] = attempt(lambda: write({json.dumps(os.path.join(parent, "cg-itest-x"))}))
out["home"] = attempt(lambda: write(os.path.expanduser("~/cg-itest-x")))
out["workspace"] = attempt(lambda: write({json.dumps(name)}))
out["tmp"] = attempt(lambda: write("/tmp/{tmpname}"))
out["tmp_read"] = attempt(lambda: open("/tmp/{tmpname}").read())
out["uid"] = os.getuid()
out["euid"] = os.geteuid()
''')
    for k in ("etc", "root", "var_tmp", "usr", "parent"):
        assert not out[k]["ok"], (k, out[k])
    # the home directory, if writable at all, must not be the host's
    if out["home"]["ok"]:
        assert not os.path.exists(out["home"]["value"]) or out["home"]["value"].startswith(server.workspace)
    assert out["workspace"]["ok"], out
    host = os.path.join(server.workspace, name)
    assert os.path.exists(host), f"file written in the kernel's cwd {out['cwd']} not at {host}"
    with open(host) as f:
        assert f.read() == "hello from the kernel"
    # /tmp inside is writable and private
    assert out["tmp"]["ok"] and out["tmp_read"]["value"] == "hello from the kernel", out
    assert not os.path.exists(f"/tmp/{tmpname}"), "the kernel's /tmp is the host's /tmp"
    if os.geteuid() == 0:
        assert out["uid"] != 0 and out["euid"] != 0, "kernel runs as root"
    for p in ("/etc/cg-itest-x", "/root/cg-itest-x", "/var/tmp/cg-itest-x", "/usr/cg-itest-x"):
        assert not os.path.exists(p), p


@cellgate_only
def test_state_dir_invisible(server, kernel):
    files = []
    for d, _, fs in os.walk(server.state):
        files += [os.path.join(d, f) for f in fs]
    assert any(f.endswith("itest-sentinel") for f in files)
    out = probe(server, kernel, TRY + f'''
state = {json.dumps(server.state)}
out["listdir"] = attempt(lambda: os.listdir(state))
out["files"] = {{}}
for p in {json.dumps(files)}:
    out["files"][p] = attempt(lambda: open(p, "rb").read(64).decode("latin-1"))
out["write"] = attempt(lambda: open(os.path.join(state, "from-kernel"), "w").write("x"))
''')
    if out["listdir"]["ok"]:
        assert out["listdir"]["value"] == [], out["listdir"]
    for p, r in out["files"].items():
        assert not r["ok"], f"kernel can read the server's {p}: {r}"
    assert not out["write"]["ok"], out["write"]
    assert not os.path.exists(os.path.join(server.state, "from-kernel"))


@cellgate_only
def test_cannot_signal_or_see_server(server, kernel):
    out = probe(server, kernel, TRY + f'''
out["kill"] = attempt(lambda: os.kill({server.pid}, 0))
cmds = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            cmds.append(open(f"/proc/{{p}}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
out["cmds"] = cmds
out["env"] = dict(os.environ)
''')
    assert not out["kill"]["ok"], out["kill"]
    # a pid namespace of its own: the kernel sees only its own few processes
    assert len(out["cmds"]) < 20, out["cmds"]
    assert not any(server.token in c or " serve " in c for c in out["cmds"]), out["cmds"]
    assert server.token not in json.dumps(out["env"]), "the server's token is in the kernel's environment"


@cellgate_only
def test_two_kernels_do_not_share_tmp(server, kernel):
    other = server.start_kernel()
    try:
        name = f"/tmp/cg-itest-{uuid.uuid4().hex}"
        server.execute(kernel, f"open({name!r}, 'w').write('a')")
        res = server.execute(other, f"import os; print(os.path.exists({name!r}))")
        assert res.stdout.strip() == "False"
    finally:
        server.delete_kernel(other)


# ---------------------------------------------------------------- lifecycle (any server)

def test_kernel_that_exits_at_start(server):
    """argv ["/bin/false"]: a clear error, or a kernel that goes dead (or away)."""
    assert FALSE_KERNEL in server.request("GET", "/api/kernelspecs").json()["kernelspecs"]
    r = server.request("POST", "/api/kernels", json={"name": FALSE_KERNEL}, timeout=90)
    if r.status_code >= 400:
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.text
        body = r.json()
        assert body.get("message"), body
        assert r.status_code in (500, 502, 503), r.text
    else:
        assert r.status_code == 201, r.text
        kid = r.json()["id"]
        server._kernels.add(kid)
        # Jupyter Server 1.23 restarts it 5 times (3 s apart), then drops it (~18 s)
        end = time.monotonic() + (40 if server.reference else 20)
        state = None
        while time.monotonic() < end:
            g = server.request("GET", f"/api/kernels/{kid}")
            if g.status_code == 404:
                state = "gone"
                break
            state = g.json().get("execution_state")
            if state == "dead":
                if not server.reference:
                    model = g.json()
                    assert any(model.get(k) for k in ("reason", "message", "exit_status", "exit_code")), \
                        f"dead kernel model gives no reason: {model}"
                break
            time.sleep(0.5)
        assert state in ("dead", "gone"), f"kernel that exits at once still {state!r}"
        server.delete_kernel(kid)
    # the server keeps serving, and real kernels still start
    kid = server.start_kernel()
    assert server.execute(kid, "1+1").result == "2"
    server.delete_kernel(kid)


def test_delete_kills_process_tree(server):
    before = kernel_descendants(server)
    kid = server.start_kernel()
    assert server.execute(kid, "import os; os.getpid()").result
    during = kernel_descendants(server)
    mine = {k: v for k, v in during.items() if k not in before}
    assert mine, "no new process under the server after starting a kernel"
    if not server.reference:
        assert any("bwrap" in c for c in mine.values()), f"no bwrap among the kernel's processes: {mine}"
        assert any("python" in c for c in mine.values()), f"no python among the kernel's processes: {mine}"
    r = server.delete_kernel(kid)
    assert r.status_code == 204
    end = time.monotonic() + 10
    left = alive_procs(mine)
    while left and time.monotonic() < end:
        time.sleep(0.1)
        left = alive_procs(mine)
    assert not left, "still alive 10 s after DELETE: %s" % {p: mine[(p, s)] for p, s in left}
    after = kernel_descendants(server)
    assert not (set(after) & set(mine))


def test_restart_leaves_no_process_behind(server):
    before = kernel_descendants(server)
    kid = server.start_kernel()
    first = {k: v for k, v in kernel_descendants(server).items() if k not in before}
    assert first
    r = server.request("POST", f"/api/kernels/{kid}/restart")
    assert r.status_code == 200
    server.wait_kernel_ready(kid)
    second = {k: v for k, v in kernel_descendants(server).items() if k not in before and k not in first}
    assert second, "no new process after restart"
    left = alive_procs(first)
    end = time.monotonic() + 10
    while left and time.monotonic() < end:
        time.sleep(0.1)
        left = alive_procs(first)
    assert not left, "the pre-restart processes are still alive: %s" % {p: first[(p, s)] for p, s in left}
    assert server.delete_kernel(kid).status_code == 204
    left = alive_procs(second)
    end = time.monotonic() + 10
    while left and time.monotonic() < end:
        time.sleep(0.1)
        left = alive_procs(second)
    assert not left, "still alive after DELETE: %s" % {p: second[(p, s)] for p, s in left}


@cellgate_only
def test_unreachable_workspace_is_refused_at_start(tmp_path):
    """A workspace the kernel user cannot reach is a startup error that says
    so, not a kernel that dies at every start."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run kernels as another user")
    import subprocess
    from conftest import cellgate_bin
    hidden = tmp_path / "private"
    (hidden / "ws").mkdir(parents=True)
    hidden.chmod(0o700)
    p = subprocess.run([cellgate_bin(), "serve", "--port", "1", "--kernel-user", "nobody",
                        "--root", str(hidden / "ws"), "--state", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "cannot reach the workspace" in p.stderr, p.stderr
