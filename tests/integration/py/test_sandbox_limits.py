"""Resource limits of a sandboxed kernel (rlimits), on a server of its own
started with small limits: a memory bomb gets MemoryError and the kernel,
its neighbour and the server keep serving; a file beyond the size limit
cannot be written; a CPU-bound kernel past its CPU limit dies with the reason;
the kernel's model reports the limits and the mechanism.
"""
import time

import pytest

from conftest import REFERENCE, Server, run_server

pytestmark = pytest.mark.cellgate_only

MEMORY = 768 << 20
FSIZE = 1 << 20
CPU = 5


@pytest.fixture(scope="module")
def limited():
    if REFERENCE:
        pytest.skip("cellgate only")
    yield from run_server(Server(REFERENCE, extra_args=[
        "--kernel-memory", "768M", "--kernel-fsize", "1M", "--kernel-cpu", str(CPU)]))


def test_model_reports_limits(limited):
    kid = limited.start_kernel()
    model = limited.request("GET", f"/api/kernels/{kid}").json()
    assert model["limits"] == {"memory_bytes": MEMORY, "processes": 4096, "open_files": 4096,
                               "file_size_bytes": FSIZE, "cpu_seconds": CPU,
                               "mechanism": "rlimit"}, model
    limited.delete_kernel(kid)


def test_memory_bomb_is_contained(limited):
    bomb, neighbour = limited.start_kernel(), limited.start_kernel()
    out = limited.execute(bomb, '''
import resource
try:
    x = bytearray(4 << 30)
    print("allocated")
except MemoryError:
    print("MemoryError")
try:
    chunks = []
    while True:
        chunks.append(bytearray(64 << 20))
except MemoryError:
    n = len(chunks)
    del chunks
    print("MemoryError after", n)
''', timeout=60).stdout
    lines = out.split("\n")
    assert lines[0] == "MemoryError", out
    assert lines[1].startswith("MemoryError after"), out
    assert int(lines[1].split()[-1]) * 64 < 768, out
    # the same kernel, its neighbour and the server still work
    assert limited.execute(bomb, "print(6 * 7)").stdout.strip() == "42"
    assert limited.execute(neighbour, "print(len(bytearray(100 << 20)))").stdout.strip() == str(100 << 20)
    assert limited.alive()
    limited.delete_kernel(bomb)
    limited.delete_kernel(neighbour)


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


def test_cpu_limit_ends_the_kernel_with_the_reason(limited):
    kid = limited.start_kernel()
    ws = limited.ws_connect(kid)
    try:
        ws.send("shell", "execute_request", {"code": "while True: pass", "silent": False,
                                             "store_history": False, "user_expressions": {},
                                             "allow_stdin": False, "stop_on_error": True})
        end = time.monotonic() + 60
        model = {}
        while time.monotonic() < end:
            model = limited.request("GET", f"/api/kernels/{kid}").json()
            if model.get("execution_state") == "dead":
                break
            time.sleep(0.5)
    finally:
        ws.close()
    assert model.get("execution_state") == "dead", model
    assert model.get("reason") == "cpu time limit", model
    other = limited.start_kernel()
    assert limited.execute(other, "print(1)").stdout.strip() == "1"
    limited.delete_kernel(other)
    limited.delete_kernel(kid)
