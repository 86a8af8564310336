"""The programs a sandbox runs, wherever the server was built.

bubblewrap runs as the kernel's unprivileged user and sees a private /tmp:
a server built in a 0700 directory (a checkout under /root, a `mktemp -d`
clone under /tmp) would start no kernel at all if the sandbox had to reach
its egress relay and native kernels where they lie. The server copies such
programs into its runtime directory once and runs them from there
(sandbox/program.c). This starts cellgate from a copy of bin/ inside a 0700
directory under /tmp and runs a Python kernel (through the relay) and the
native PARI/GP kernel.
"""
import json
import os
import shutil
import tempfile

import pytest

from conftest import REPO, REFERENCE, Server, run_server

pytestmark = pytest.mark.cellgate_only

BIN = os.path.join(REPO, "bin")
PARI_SPEC = os.path.join(REPO, "build", "share", "jupyter", "kernels", "pari", "kernel.json")


class HiddenBuild(Server):
    """cellgate, its relay and the PARI kernel, all in a 0700 directory."""

    def __init__(self):
        super().__init__(False)
        self.hidden = tempfile.mkdtemp(prefix="cellgate-hidden-build-")
        os.chmod(self.hidden, 0o700)
        for name in ("cellgate", "cellgate-egress-relay", "cellgate-pari"):
            shutil.copy2(os.path.join(BIN, name), os.path.join(self.hidden, name))
        with open(PARI_SPEC) as f:
            spec = json.load(f)
        spec["argv"][0] = os.path.join(self.hidden, "cellgate-pari")
        os.makedirs(os.path.join(self.kernelspec_dir, "pari-hidden"))
        with open(os.path.join(self.kernelspec_dir, "pari-hidden", "kernel.json"), "w") as f:
            json.dump(spec, f)

    def argv(self):
        return [os.path.join(self.hidden, "cellgate")] + super().argv()[1:]

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self.hidden, ignore_errors=True)


@pytest.fixture(scope="module")
def hidden():
    for name in ("cellgate", "cellgate-egress-relay", "cellgate-pari"):
        if not os.access(os.path.join(BIN, name), os.X_OK):
            pytest.skip(f"bin/{name} is not built")
    s = HiddenBuild()
    yield from run_server(s)


def test_python_kernel_runs_behind_the_relay(hidden):
    kid = hidden.start_kernel("python3")
    r = hidden.execute(kid, "import os, socket\n"
                            "s = socket.create_connection(('127.0.0.1', 3128), timeout=5)\n"
                            "s.close()\n"
                            "print(os.environ['HTTP_PROXY'])")
    # the relay listens inside the sandbox, so the kernel got past it
    assert r.stdout.strip() == "http://127.0.0.1:3128"
    hidden.delete_kernel(kid)


def test_native_kernel_runs_from_a_hidden_build(hidden):
    kid = hidden.start_kernel("pari-hidden")
    r = hidden.execute(kid, "2^10")
    assert r.result == "1024"
    hidden.delete_kernel(kid)


def test_the_copies_live_in_the_runtime_directory(hidden):
    """What the sandbox runs is a copy the kernel's user may execute; the
    hidden directory stays closed to it."""
    kid = hidden.start_kernel("python3")
    r = hidden.execute(kid, "import os\nprint(os.path.exists(%r))" % hidden.hidden)
    assert r.stdout.strip() == "False"
    hidden.delete_kernel(kid)
