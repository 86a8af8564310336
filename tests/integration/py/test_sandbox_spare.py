"""The spare launch child (sandbox/spare.c): a process the server keeps
ready in cgroups of its own, so that a launch does not wait for the cgroup
join. On a server with limits, where it may create cgroups (v1 or v2):

- the spare holds nothing of the server: stdio on /dev/null and its
  socketpair, no other descriptor;
- a kernel launched from it runs in the spare's cgroups, which are its own
  (no other kernel's, not the server's), with the limits of its kernelspec
  written on them; a memory bomb in it is ended as "out of memory";
- two kernels started at the same time (the second finds no spare) each get
  cgroups of their own with their limits; a fork bomb in the second is held
  at the process limit;
- an unused spare and its cgroups are gone when the server stops.
"""
import concurrent.futures
import subprocess
import os
import time

import pytest

from conftest import MESSAGE_INTERRUPT_KERNEL, REFERENCE, Server, descendants, proc_cmdline, run_server

pytestmark = pytest.mark.cellgate_only

MEMORY = 512 << 20
NPROC = 64
CONTROLLERS = ("memory", "pids", "cpuacct")


def cgroup_dir(pid, controller):
    """pid's cgroup directory in controller's hierarchy (v1), or the unified one."""
    unified = None
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctls, path = line.rstrip("\n").split(":", 2)
            if controller in ctls.split(","):
                return f"/sys/fs/cgroup/{controller}{path}"
            if hid == "0":
                unified = "/sys/fs/cgroup" + path
    return unified


def has_cgroups():
    d = cgroup_dir(os.getpid(), "memory")
    return d is not None and os.access(d, os.W_OK)


def read(path):
    with open(path) as f:
        return f.read().strip()


def memory_limit(d):
    p = os.path.join(d, "memory.limit_in_bytes")
    return int(read(p if os.path.exists(p) else os.path.join(d, "memory.max")))


def spare_pid(server, timeout=30):
    """The server's spare: a child still running the server's own program."""
    own = proc_cmdline(server.pid)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for (pid, _), cmd in descendants(server.pid).items():
            if cmd == own and os.path.exists(f"/proc/{pid}/fd/3"):
                d = cgroup_dir(pid, "memory")
                if d and "-spare-" in d:
                    return pid
        time.sleep(0.1)
    raise AssertionError("no spare launch child appeared:\n" + server.log_tail())


def kernel_pids(server):
    """The kernels' own processes (not bwrap, not the egress relay)."""
    return {pid for (pid, _), cmd in descendants(server.pid).items()
            if "ipykernel" in cmd and os.path.basename(cmd.split()[0]).startswith("python")}


def new_kernel_pid(server, before, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        new = kernel_pids(server) - before
        if new:
            assert len(new) == 1, new
            return new.pop()
        time.sleep(0.1)
    raise AssertionError("kernel process not found")


@pytest.fixture(scope="module")
def limited():
    if REFERENCE:
        pytest.skip("cellgate only")
    if not has_cgroups():
        pytest.skip("no cgroups this server may create: no spare is made (rlimit fallback)")
    s = Server(REFERENCE, extra_args=["--kernel-memory", "512M", "--kernel-nproc", str(NPROC)])
    conf = os.path.join(s.tmp, "cellgate.conf")
    with open(conf, "w") as f:
        f.write(f"kernelspec.{MESSAGE_INTERRUPT_KERNEL}.kernel-memory = 256M\n")
    s.extra_args += ["--config", conf]
    yield from run_server(s)


def test_the_spare_holds_nothing_of_the_server(limited):
    # the first launch makes the first spare
    limited.delete_kernel(limited.start_kernel())
    pid = spare_pid(limited)
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert sorted(fds) == [0, 1, 2, 3], fds
    assert {fds[0], fds[1], fds[2]} == {"/dev/null"}, fds
    assert fds[3].startswith("socket:"), fds
    # its cgroups are its own, not the server's
    for ctl in CONTROLLERS:
        d = cgroup_dir(pid, ctl)
        assert d != cgroup_dir(limited.pid, ctl) and "-spare-" in d, (ctl, d)


def test_kernel_from_the_spare_has_its_own_cgroups_and_limits(limited):
    spare = spare_pid(limited)
    spare_dirs = {ctl: cgroup_dir(spare, ctl) for ctl in CONTROLLERS}
    others = {cgroup_dir(p, "memory") for p in kernel_pids(limited)}
    before = kernel_pids(limited)
    kid = limited.start_kernel(MESSAGE_INTERRUPT_KERNEL)
    kpid = new_kernel_pid(limited, before)
    # launched from the spare: the kernel is in the cgroups the spare was in
    dirs = {ctl: cgroup_dir(kpid, ctl) for ctl in CONTROLLERS}
    assert dirs == spare_dirs, (dirs, spare_dirs)
    assert dirs["memory"] not in others
    # the spare itself became the sandbox's bwrap
    assert proc_cmdline(spare).startswith("/usr/bin/bwrap "), proc_cmdline(spare)
    # with this kernelspec's limits, written at the claim
    assert memory_limit(dirs["memory"]) == 256 << 20
    assert read(os.path.join(dirs["pids"], "pids.max")) == str(NPROC)
    lim = limited.request("GET", f"/api/kernels/{kid}").json()["limits"]
    assert lim["memory_bytes"] == 256 << 20 and lim["mechanism"]["memory"].startswith("cgroup"), lim
    # and the limit holds
    model, text = run_until_dead(limited, kid, '''
chunks = []
while True:
    chunks.append(bytearray(32 << 20))
''')
    assert model.get("reason") == "out of memory", model
    limited.delete_kernel(kid)
    # the next spare has fresh cgroups
    assert cgroup_dir(spare_pid(limited), "memory") not in (dirs["memory"], spare_dirs["memory"])


def run_until_dead(server, kid, code, timeout=120):
    ws = server.ws_connect(kid)
    texts = []
    try:
        ws.send("shell", "execute_request", {"code": code, "silent": False, "store_history": False,
                                             "user_expressions": {}, "allow_stdin": False,
                                             "stop_on_error": True})
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


def test_back_to_back_kernels_get_cgroups_of_their_own(limited):
    spare_pid(limited)
    before = kernel_pids(limited)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        kids = list(pool.map(lambda name: limited.start_kernel(name),
                             ["python3", MESSAGE_INTERRUPT_KERNEL]))
    end = time.monotonic() + 30
    while len(kernel_pids(limited) - before) < 2 and time.monotonic() < end:
        time.sleep(0.1)
    pids = kernel_pids(limited) - before
    assert len(pids) == 2, pids
    dirs = {p: {ctl: cgroup_dir(p, ctl) for ctl in CONTROLLERS} for p in pids}
    a, b = dirs.values()
    for ctl in CONTROLLERS:
        assert a[ctl] != b[ctl], (ctl, a, b)
        assert a[ctl] != cgroup_dir(limited.pid, ctl)
    assert sorted(memory_limit(d["memory"]) for d in dirs.values()) == [256 << 20, MEMORY]
    assert all(read(os.path.join(d["pids"], "pids.max")) == str(NPROC) for d in dirs.values())
    # the process limit holds in both
    for kid in kids:
        out = limited.execute(kid, '''
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
''', timeout=120).stdout.strip()
        assert out.startswith("stopped after") and int(out.split()[2]) < NPROC, out
    for kid in kids:
        limited.delete_kernel(kid)


def test_unused_spare_and_its_cgroups_are_removed_at_stop():
    if REFERENCE or not has_cgroups():
        pytest.skip("cellgate with cgroups only")
    s = Server(REFERENCE, extra_args=["--kernel-memory", "512M"])
    s.start()
    try:
        s.delete_kernel(s.start_kernel())
        pid = spare_pid(s)
        dirs = [cgroup_dir(pid, ctl) for ctl in CONTROLLERS]
        assert all(os.path.isdir(d) for d in dirs), dirs
    finally:
        problems = s.stop()
        s.cleanup()
    assert not problems, problems
    assert not os.path.exists(f"/proc/{pid}"), proc_cmdline(pid)
    left = [d for d in dirs if os.path.exists(d)]
    assert not left, left


def test_cgroups_a_killed_server_left_are_removed_at_start(limited):
    """A server killed with SIGKILL leaves its empty cgroups, named with its
    pid, which the system hands out again: the next server removes those of
    servers that no longer run (or whose pid runs another program now),
    keeps a running server's, and never removes one with a process in it."""
    parents = {ctl: os.path.dirname(cgroup_dir(spare_pid(limited), ctl).rstrip("/"))
               for ctl in CONTROLLERS}
    dead = next(p for p in range(32000, 300, -1) if not os.path.exists(f"/proc/{p}"))
    made = {}
    for ctl, parent in parents.items():
        made[ctl] = {
            "dead": os.path.join(parent, f"cellgate-{dead}-0123-1"),
            "other program": os.path.join(parent, f"cellgate-{os.getpid()}-spare-9"),
            "running server": os.path.join(parent, f"cellgate-{limited.pid}-test-1"),
        }
        for d in made[ctl].values():
            os.mkdir(d)
    # one with a process in it stays, whoever made it
    busy = os.path.join(parents["pids"], f"cellgate-{dead}-busy-1")
    os.mkdir(busy)
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        with open(os.path.join(busy, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        s = Server(REFERENCE, extra_args=["--kernel-memory", "512M"])
        s.start()
        try:
            s.delete_kernel(s.start_kernel())
            log = s.log_tail(200)
        finally:
            problems = s.stop()
            s.cleanup()
        assert not problems, problems
        for ctl, dirs in made.items():
            assert not os.path.exists(dirs["dead"]), ctl
            assert not os.path.exists(dirs["other program"]), ctl
            assert os.path.isdir(dirs["running server"]), ctl
        assert os.path.isdir(busy)
        assert "left behind by servers that were killed" in log, log
    finally:
        sleeper.kill()
        sleeper.wait()
        for d in [busy] + [d for dirs in made.values() for d in dirs.values()]:
            if os.path.isdir(d):
                os.rmdir(d)
