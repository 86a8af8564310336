"""Resource limits of a sandboxed kernel, on a server of its own started with
small limits (and a configuration file that overrides some for one
kernelspec):

- the kernel's model reports each limit and the mechanism that enforces it
  (cgroup-v1/cgroup-v2 where this machine lets the server create child
  cgroups, rlimit otherwise; "watch" for what the server samples);
- a memory bomb ends the kernel with the reason "out of memory" (cgroup) or
  gets MemoryError (rlimit); a fork bomb is held at the process limit and
  reported as "process limit"; a cell past its CPU quota is interrupted and
  the user is told on IOPub; a kernel past its total CPU time is stopped
  ("cpu time limit"); filling the workspace is stopped ("disk quota
  exceeded"); a file beyond the size limit cannot be written;
- in every case a second kernel and the server keep working.
"""
import os
import shutil
import time

import pytest

from conftest import execution_record, MESSAGE_INTERRUPT_KERNEL, REFERENCE, Server, run_server

pytestmark = pytest.mark.cellgate_only

MEMORY = 512 << 20
FSIZE = 1 << 20
CPU = 12
CELL_CPU = 3
NPROC = 64
DISK = 48 << 20


def own_cgroup_writable(controller):
    for line in open("/proc/self/cgroup"):
        _, ctls, path = line.rstrip("\n").split(":", 2)
        if controller in ctls.split(","):
            return os.access(f"/sys/fs/cgroup/{controller}{path}", os.W_OK)
    return False


@pytest.fixture(scope="module")
def limited():
    if REFERENCE:
        pytest.skip("cellgate only")
    s = Server(REFERENCE, extra_args=[
        "--kernel-memory", "512M", "--kernel-fsize", "1M", "--kernel-cpu", str(CPU),
        "--kernel-cell-cpu", str(CELL_CPU), "--kernel-nproc", str(NPROC),
        "--kernel-disk", "48M"])
    conf = os.path.join(s.tmp, "cellgate.conf")
    with open(conf, "w") as f:
        f.write(f"# narrower limits for one kernelspec, wider for the trust class\n"
                f"kernelspec.{MESSAGE_INTERRUPT_KERNEL}.kernel-memory = 256M\n"
                f"trust.trusted.kernel-nofile = 1000\n"
                f"kernelspec.{MESSAGE_INTERRUPT_KERNEL}.kernel-nofile = 500\n")
    s.extra_args += ["--config", conf]
    yield from run_server(s)


def wait_dead(server, kid, timeout=120):
    end = time.monotonic() + timeout
    model = {}
    while time.monotonic() < end:
        model = server.request("GET", f"/api/kernels/{kid}").json()
        if model.get("execution_state") == "dead":
            break
        time.sleep(0.3)
    return model


def run_until_dead(server, kid, code, timeout=120, sent=None):
    """Sends code, collects IOPub stream text until the kernel is dead
    (the request's msg_id appended to sent)."""
    ws = server.ws_connect(kid)
    texts = []
    try:
        mid = ws.send("shell", "execute_request", {"code": code, "silent": False, "store_history": False,
                                             "user_expressions": {}, "allow_stdin": False,
                                             "stop_on_error": True})
        if sent is not None:
            sent.append(mid)
        end = time.monotonic() + timeout
        model = {}
        while time.monotonic() < end:
            m = ws.recv(timeout=0.5)
            if m and m["header"]["msg_type"] == "stream":
                texts.append(m["content"]["text"])
            if m is None or m["header"]["msg_type"] == "status":
                model = server.request("GET", f"/api/kernels/{kid}").json()
                if model.get("execution_state") == "dead":
                    break
    finally:
        ws.close()
    return model, "".join(texts)


def neighbour_works(server):
    other = server.start_kernel()
    assert server.execute(other, "print(6 * 7)").stdout.strip() == "42"
    server.delete_kernel(other)
    assert server.alive()


def test_model_reports_limits_and_mechanisms(limited):
    kid = limited.start_kernel()
    model = limited.request("GET", f"/api/kernels/{kid}").json()
    lim = model["limits"]
    assert {k: lim[k] for k in ("memory_bytes", "processes", "open_files", "file_size_bytes",
                                "cpu_seconds", "cell_cpu_seconds", "disk_bytes")} == {
        "memory_bytes": MEMORY, "processes": NPROC, "open_files": 1000, "file_size_bytes": FSIZE,
        "cpu_seconds": CPU, "cell_cpu_seconds": CELL_CPU, "disk_bytes": DISK}, model
    mech = lim["mechanism"]
    expect_mem = "cgroup-v1" if own_cgroup_writable("memory") else mech["memory"]
    assert mech["memory"] == expect_mem and mech["memory"] in ("cgroup-v1", "cgroup-v2", "rlimit"), mech
    assert mech["processes"] in ("cgroup-v1", "cgroup-v2", "rlimit"), mech
    assert (mech["cpu"], mech["cell_cpu"], mech["disk"]) == ("watch", "watch", "watch"), mech
    assert (mech["open_files"], mech["file_size"]) == ("rlimit", "rlimit"), mech
    assert model["trust_class"] == "trusted"
    # the rlimits the kernel itself sees
    out = limited.execute(kid, "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[0],"
                          " resource.getrlimit(resource.RLIMIT_FSIZE)[0])").stdout.split()
    assert out == ["1000", str(FSIZE)], out
    # the server's configuration file is not readable from the sandbox (/dev/null over it)
    conf = os.path.join(limited.tmp, "cellgate.conf")
    code = ("try:\n    print(repr(open(%r).read()))\n"
            "except OSError as e:\n    print(type(e).__name__)\n") % conf
    out = limited.execute(kid, code).stdout.strip()
    assert out in ("''", "FileNotFoundError", "PermissionError"), out
    limited.delete_kernel(kid)


def test_limits_per_kernelspec_from_the_configuration(limited):
    kid = limited.start_kernel(MESSAGE_INTERRUPT_KERNEL)
    lim = limited.request("GET", f"/api/kernels/{kid}").json()["limits"]
    # the kernelspec's lines win over the trust class's, the flags fill the rest
    assert (lim["memory_bytes"], lim["open_files"], lim["processes"]) == (256 << 20, 500, NPROC), lim
    limited.delete_kernel(kid)


def test_memory_bomb_is_contained_and_reported(limited):
    kid = limited.start_kernel()
    mech = limited.request("GET", f"/api/kernels/{kid}").json()["limits"]["mechanism"]["memory"]
    bomb = '''
chunks = []
try:
    while True:
        chunks.append(bytearray(32 << 20))
except MemoryError:
    n = len(chunks)
    del chunks
    print("MemoryError after", n)
'''
    if mech == "rlimit":
        out = limited.execute(kid, bomb, timeout=60).stdout
        assert out.startswith("MemoryError after"), out
    else:
        model, text = run_until_dead(limited, kid, bomb)
        assert model.get("reason") == "out of memory", model
        assert "cellgate: out of memory" in text, text
    neighbour_works(limited)
    limited.delete_kernel(kid)


def test_fork_bomb_is_held_at_the_process_limit(limited):
    kid = limited.start_kernel()
    res = limited.execute(kid, '''
import os, time
pids = []
try:
    for i in range(100000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(pid)
    print("no limit")
except OSError as e:
    print("stopped after", len(pids), type(e).__name__)
for p in pids:
    os.kill(p, 9)
    os.waitpid(p, 0)
''', timeout=120)
    out = res.stdout.strip()
    assert out.startswith("stopped after") and int(out.split()[2]) < NPROC, out
    mech = limited.request("GET", f"/api/kernels/{kid}").json()["limits"]["mechanism"]["processes"]
    if mech != "rlimit":
        # the watcher saw the pids cgroup refuse forks, and said so
        end = time.monotonic() + 10
        model = {}
        while time.monotonic() < end:
            model = limited.request("GET", f"/api/kernels/{kid}").json()
            if model.get("limit_reached") == "process limit":
                break
            time.sleep(0.3)
        assert model.get("limit_reached") == "process limit", model
    assert limited.execute(kid, "print('alive')").stdout.strip() == "alive"
    neighbour_works(limited)
    limited.delete_kernel(kid)


def test_cell_cpu_quota_interrupts_the_cell(limited):
    kid = limited.start_kernel()
    res = limited.execute(kid, "while True: pass", timeout=120, allow_error=True,
                         stop_on_error=False)
    assert res.reply["status"] == "error" and res.reply["ename"] == "KeyboardInterrupt", res
    assert any("cellgate: cell cpu time limit" in m["content"].get("text", "")
               for m in res.msgs if m["header"]["msg_type"] == "stream"), res
    # the kernel lives on, and the next cell has a quota of its own
    nxt = limited.execute(kid, "print('next')")
    assert nxt.stdout.strip() == "next"
    model = limited.request("GET", f"/api/kernels/{kid}").json()
    assert model["execution_state"] != "dead" and model["limit_reached"] == "cell cpu time limit"
    # the record says timeout (not interrupted), the next cell's ok
    rec = execution_record(limited, res.msgs[0]["parent_header"]["msg_id"])
    assert rec["status"] == "timeout" and rec["reason"] == "cell cpu time limit", rec
    assert rec["code"] == "while True: pass" and rec["error"]["ename"] == "KeyboardInterrupt"
    assert execution_record(limited, nxt.msgs[0]["parent_header"]["msg_id"])["status"] == "ok"
    limited.delete_kernel(kid)


def test_cell_that_ignores_its_interrupt_is_stopped(limited):
    kid = limited.start_kernel()
    sent = []
    model, text = run_until_dead(limited, kid, '''
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True: pass
''', sent=sent)
    assert model.get("reason") == "cell cpu time limit", model
    assert "cell went on after its interrupt" in text, text
    # stopped by the quota: timeout, not kernel_died
    rec = execution_record(limited, sent[0])
    assert rec["status"] == "timeout" and rec["reason"] == "cell cpu time limit", rec
    neighbour_works(limited)
    limited.delete_kernel(kid)


def test_total_cpu_time_stops_the_kernel(limited):
    kid = limited.start_kernel()
    ws = limited.ws_connect(kid)
    try:
        # cells of CELL_CPU seconds each (each interrupted at its quota),
        # queued until the kernel's CPU total runs out
        for _ in range(CPU // CELL_CPU + 3):
            ws.send("shell", "execute_request", {"code": "while True: pass", "silent": False,
                                                 "store_history": False, "user_expressions": {},
                                                 "allow_stdin": False, "stop_on_error": False})
        model = wait_dead(limited, kid, timeout=180)
    finally:
        ws.close()
    assert model.get("reason") == "cpu time limit", model
    assert model["limits"]["cpu_used_seconds"] >= CPU, model
    neighbour_works(limited)
    limited.delete_kernel(kid)


def test_filling_the_disk_is_stopped(limited):
    kid = limited.start_kernel()
    model, text = run_until_dead(limited, kid, '''
import os
os.makedirs("fill", exist_ok=True)
block = b"x" * (512 << 10)
for i in range(8192):  # 4 GiB: a quota that does not hold lets the cell end
    with open(f"fill/{i}", "wb") as f:
        f.write(block)
''')
    assert model.get("reason") == "disk quota exceeded", model
    assert "cellgate: disk quota exceeded" in text, text
    limited.delete_kernel(kid)  # its last write may still be landing: wait for it
    fill = os.path.join(limited.workspace, "fill")
    used = sum(os.path.getsize(os.path.join(fill, f)) for f in os.listdir(fill))
    # stopped within a tick or two of writing past the quota (the watcher
    # samples every 250 ms; this machine writes to the page cache at over
    # 1 GB/s), long before the 4 GiB the cell would write unchecked
    assert used < DISK + (1 << 30), used
    shutil.rmtree(fill)
    neighbour_works(limited)


def test_file_size_limit(limited):
    kid = limited.start_kernel()
    out = limited.execute(kid, '''
import errno, os
try:
    with open("/tmp/big", "wb") as f:
        f.write(b"x" * (1 << 20))
        f.write(b"y")
        f.flush()
    print("wrote")
except OSError as e:
    print(errno.errorcode[e.errno], os.path.getsize("/tmp/big"))
''').stdout.strip()
    assert out == f"EFBIG {FSIZE}", out
    assert limited.execute(kid, "print('alive')").stdout.strip() == "alive"
    limited.delete_kernel(kid)
