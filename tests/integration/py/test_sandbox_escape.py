"""Escape attempts from inside a real sandboxed kernel: the seccomp filter,
the capability set, user namespaces.

Each probe runs in a python3 kernel started through the server and reports
what happened as JSON; the assertions are made here. Where the kernel without
the filter would get another answer (EFAULT for a NULL argument, success for
ptrace of its own child, ENOSPC from bwrap's --disable-userns), the expected
errno is the filter's, so a missing filter fails the test rather than passing
on some other error. x86_64 syscall numbers.
"""
import errno
import platform

import pytest

cellgate_only = pytest.mark.cellgate_only
pytestmark = [cellgate_only,
              pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")]


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def probe(server, kernel, body):
    code = ("import json, os, ctypes, subprocess, errno\nout = {}\n"
            "libc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
            "def sc(nr, *args):\n"
            "    ctypes.set_errno(0)\n"
            "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])\n"
            "    return [r, ctypes.get_errno()]\n"
            + body + "\nprint(json.dumps(out))\n")
    return server.execute(kernel, code, timeout=60).json()


EPERM, ENOSYS = errno.EPERM, errno.ENOSYS

# name: (number, args, errno the filter returns). Arguments are harmless (NULL
# pointers, zero counts) so that a call that got through could do nothing.
DENIED = {
    "mount": (165, [0, 0, 0, 0, 0], EPERM),
    "umount2": (166, [0, 0], EPERM),
    "pivot_root": (155, [0, 0], EPERM),
    "open_tree": (428, [-100, 0, 0], EPERM),
    "move_mount": (429, [0, 0, 0, 0, 0], EPERM),
    "fsopen": (430, [0, 0], EPERM),
    "fsconfig": (431, [0, 0, 0, 0, 0], EPERM),
    "fsmount": (432, [0, 0, 0], EPERM),
    "kexec_load": (246, [0, 0, 0, 0], EPERM),
    "kexec_file_load": (320, [0, 0, 0, 0, 0], EPERM),
    "init_module": (175, [0, 0, 0], EPERM),
    "finit_module": (313, [-1, 0, 0], EPERM),
    "delete_module": (176, [0, 0], EPERM),
    "bpf": (321, [0, 0, 0], EPERM),
    "perf_event_open": (298, [0, 0, -1, -1, 0], EPERM),
    "add_key": (248, [0, 0, 0, 0, 0], EPERM),
    "request_key": (249, [0, 0, 0, 0], EPERM),
    "keyctl": (250, [0, -3, 0], EPERM),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "setns": (308, [-1, 0], EPERM),
    "userfaultfd": (323, [1], EPERM),  # UFFD_USER_MODE_ONLY
    "swapon": (167, [0, 0], EPERM),
    "swapoff": (168, [0], EPERM),
    "reboot": (169, [0, 0, 0, 0], EPERM),
    "acct": (163, [0], EPERM),
    "settimeofday": (164, [0, 0], EPERM),
    "clock_settime": (227, [0, 0], EPERM),
    "adjtimex": (159, [0], EPERM),
    "quotactl": (179, [0, 0, 0, 0], EPERM),
    "lookup_dcookie": (212, [0, 0, 0], EPERM),
    "name_to_handle_at": (303, [-100, 0, 0, 0, 0], EPERM),
    "open_by_handle_at": (304, [-1, 0, 0], EPERM),
    "syslog": (103, [3, 0, 0], EPERM),  # SYSLOG_ACTION_READ_ALL
    "vhangup": (153, [], EPERM),
    "iopl": (172, [0], EPERM),
    "ioperm": (173, [0, 0, 0], EPERM),
    "io_uring_setup": (425, [1, 0], ENOSYS),
    "io_uring_enter": (426, [-1, 0, 0, 0, 0, 0], ENOSYS),
    "io_uring_register": (427, [-1, 0, 0, 0], ENOSYS),
    "clone3": (435, [0, 0], ENOSYS),
    "unshare_newuser": (272, [0x10000000], EPERM),
    "unshare_newns": (272, [0x00020000], EPERM),
    "unshare_newnet": (272, [0x40000000], EPERM),
    "clone_newuser": (56, [0x10000000 | 17, 0, 0, 0, 0], EPERM),  # | SIGCHLD
    "personality_no_aslr": (135, [0x0040000], EPERM),
    "personality_read_implies_exec": (135, [0x0400000], EPERM),
}


def test_denied_syscalls_fail_with_the_filters_errno(server, kernel):
    out = probe(server, kernel, "calls = " + repr({k: (v[0], v[1]) for k, v in DENIED.items()}) + '''
for name, (nr, args) in calls.items():
    out[name] = sc(nr, *args)
''')
    wrong = {name: got for name, got in out.items()
             if got != [-1, DENIED[name][2]]}
    assert not wrong, f"expected -1 with the filter's errno, got {wrong}"


def test_allowed_calls_still_work(server, kernel):
    """The filter denies namespace flags, not forks and threads."""
    out = probe(server, kernel, '''
import threading
out["personality_query"] = sc(135, 0xffffffff)
out["personality_linux"] = sc(135, 0)
out["unshare_files"] = sc(272, 0x00000400)  # CLONE_FILES: no namespace
r = []
t = threading.Thread(target=lambda: r.append(1)); t.start(); t.join()
out["thread"] = r
out["subprocess"] = subprocess.run(["/bin/echo", "hi"], capture_output=True, text=True).stdout
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
''')
    assert out["personality_query"][0] >= 0, out
    assert out["personality_linux"][0] >= 0, out
    assert out["unshare_files"] == [0, 0], out
    assert out["thread"] == [1], out
    assert out["subprocess"] == "hi\n", out
    assert out["fork"] == 7, out


def test_ptrace_and_process_memory_of_a_sibling(server, kernel):
    """Same uid, own child: without the filter both would succeed."""
    out = probe(server, kernel, '''
p = subprocess.Popen(["/bin/sleep", "30"])
try:
    out["attach"] = sc(101, 16, p.pid, 0, 0)         # PTRACE_ATTACH
    out["seize"] = sc(101, 0x4206, p.pid, 0, 0)      # PTRACE_SEIZE
    out["vm_readv"] = sc(310, p.pid, 0, 0, 0, 0, 0)  # zero iovecs: 0 if allowed
    out["vm_writev"] = sc(311, p.pid, 0, 0, 0, 0, 0)
    out["traceme"] = sc(101, 0, 0, 0, 0)             # PTRACE_TRACEME
finally:
    p.kill(); p.wait()
''')
    for name in ("attach", "seize", "vm_readv", "vm_writev", "traceme"):
        assert out[name] == [-1, EPERM], out


def test_no_user_namespace_and_no_mount(server, kernel):
    out = probe(server, kernel, '''
def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    return [r.returncode, r.stderr.strip()]
out["unshare_U"] = run("/usr/bin/unshare", "-U", "/bin/true")
out["unshare_r"] = run("/usr/bin/unshare", "-r", "/bin/true")
out["unshare_m"] = run("/usr/bin/unshare", "-m", "/bin/true")
os.makedirs("/tmp/cg-mnt", exist_ok=True)
out["mount"] = run("/bin/mount", "-t", "tmpfs", "none", "/tmp/cg-mnt")
try:
    os.unshare(0x10000000)
    out["os_unshare"] = "created"
except AttributeError:
    out["os_unshare"] = sc(272, 0x10000000)
except OSError as e:
    out["os_unshare"] = [-1, e.errno]
''')
    for name in ("unshare_U", "unshare_r", "unshare_m", "mount"):
        assert out[name][0] != 0, out
    # EPERM is the filter's answer; bwrap's --disable-userns alone says ENOSPC
    assert "Operation not permitted" in out["unshare_U"][1], out
    assert out["os_unshare"] == [-1, EPERM], out


def test_status_shows_filter_no_new_privs_and_no_capabilities(server, kernel):
    out = probe(server, kernel, '''
for line in open("/proc/self/status"):
    k, _, v = line.partition(":")
    out[k] = v.strip()
''')
    assert out["Seccomp"] == "2", out
    assert out["NoNewPrivs"] == "1", out
    for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
        assert int(out[cap], 16) == 0, (cap, out[cap])
    # the filter is inherited by every child the kernel starts
    assert int(out.get("Seccomp_filters", "1")) >= 1, out


def test_children_inherit_the_filter(server, kernel):
    out = probe(server, kernel, '''
r = subprocess.run(["/bin/grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"],
                   capture_output=True, text=True)
out["child"] = r.stdout.split()
''')
    assert out["child"] == ["Seccomp:", "2", "NoNewPrivs:", "1"] or \
        out["child"] == ["NoNewPrivs:", "1", "Seccomp:", "2"], out


# --- the server's files, other kernels, the host ----------------------------
# (the fork bomb, the memory bomb and filling the disk are in
# test_sandbox_limits.py, on a server with small limits; egress without the
# proxy in test_egress.py)

def test_server_files_are_out_of_reach(server, kernel):
    import glob
    import os
    other = server.start_kernel()
    try:
        conn = glob.glob(f"/tmp/cellgate-*/{other}/connection.json")
        assert conn, "the other kernel's connection file is where the test expects it"
        targets = [os.path.join(server.state, "store.sqlite"),
                   os.path.join(server.state, "itest-sentinel"), conn[0]]
        out = probe(server, kernel, f'''
for p in {targets!r}:
    try:
        open(p, "rb").read(16)
        out[p] = "read"
    except OSError as e:
        out[p] = errno.errorcode[e.errno]
''')
        for p in targets:
            assert out[p] in ("ENOENT", "EACCES"), (p, out[p])
    finally:
        server.delete_kernel(other)


def test_token_and_server_environment_are_invisible(server, kernel):
    out = probe(server, kernel, f'''
token = {server.token!r}.encode()
seen = []
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for f in ("cmdline", "environ"):
        try:
            if token in open(f"/proc/{{pid}}/{{f}}", "rb").read():
                seen.append(pid + "/" + f)
        except OSError:
            pass
out["seen"] = seen
out["init"] = open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].decode()
env1 = open("/proc/1/environ", "rb").read()
out["init_env"] = sorted(set(e.split(b"=")[0].decode() for e in env1.split(b"\\0") if e))
''')
    assert out["seen"] == [], out
    # the pid namespace's own init (bwrap), not the host's; its environment is the scrubbed one
    assert out["init"].endswith("bwrap"), out
    assert not [e for e in out["init_env"] if e.startswith("CELLGATE")], out


def test_writes_outside_the_workspace_fail(server, kernel):
    import os
    targets = ["/usr/lib/cellgate-escape", "/etc/cellgate-escape", "/var/tmp/cellgate-escape",
               os.path.join(server.tmp, "cellgate-escape"), os.path.join(server.state, "x")]
    out = probe(server, kernel, f'''
for p in {targets!r}:
    try:
        open(p, "w").write("x")
        out[p] = "wrote"
    except OSError as e:
        out[p] = errno.errorcode[e.errno]
''')
    for p in targets:
        assert out[p] in ("EROFS", "EACCES", "ENOENT"), (p, out[p])
        assert not os.path.exists(p)


def test_host_loopback_service_without_the_proxy(server, kernel):
    # the server itself listens on the host's loopback
    out = probe(server, kernel, f'''
import socket
try:
    socket.create_connection(("127.0.0.1", {server.port}), timeout=5)
    out["r"] = "connected"
except OSError as e:
    out["r"] = type(e).__name__
''')
    assert out["r"] == "ConnectionRefusedError", out


def test_proc_sys_and_dev_exposure(server, kernel):
    out = probe(server, kernel, '''
out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["sys"] = sorted(os.listdir("/sys"))
out["cgroup_fs"] = os.path.exists("/sys/fs/cgroup")
out["net"] = os.path.exists("/sys/class/net")
out["cpu_online"] = open("/sys/devices/system/cpu/online").read().strip()
out["dev"] = sorted(os.listdir("/dev"))
out["cpus"] = os.cpu_count()
try:
    open("/proc/sysrq-trigger", "w").write("h")
    out["sysrq"] = "wrote"
except OSError as e:
    out["sysrq"] = errno.errorcode[e.errno]
try:
    open("/proc/sys/kernel/hostname", "w").write("x")
    out["sysctl"] = "wrote"
except OSError as e:
    out["sysctl"] = errno.errorcode[e.errno]
''')
    # a procfs of the pid namespace: a handful of processes, not the host's
    assert len(out["pids"]) < 20 and 1 in out["pids"], out
    assert out["sys"] == ["devices"] and not out["cgroup_fs"] and not out["net"], out
    assert out["cpu_online"] and out["cpus"] >= 1, out
    assert set(out["dev"]) <= {"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts",
                               "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom",
                               "zero"}, out
    assert out["sysrq"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), out
    assert out["sysctl"] in ("EROFS", "EACCES", "EPERM"), out
