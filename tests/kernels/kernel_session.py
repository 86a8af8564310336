"""What the native kernels' behaviour tests share: one kernel per test class,
started through jupyter_client, and cells run to their idle status."""
import time
import unittest

from jupyter_client.manager import start_new_kernel


def collect(kc, msg_id, timeout=30):
    """IOPub messages of one request up to its idle status, and its reply."""
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
        out.append(m)
    reply = kc.get_shell_msg(timeout=timeout)
    # a reply to an earlier request that a test abandoned is not this one's
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"], out


class KernelSession(unittest.TestCase):
    """Subclasses set kernel_name; each class gets one kernel."""
    kernel_name = None

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def run_cell(self, code, timeout=30, **kw):
        return collect(self.kc, self.kc.execute(code, **kw), timeout)

    def result_data(self, out):
        """The last execute_result's data bundle, or None."""
        res = [m["content"] for m in out if m["msg_type"] == "execute_result"]
        return res[-1]["data"] if res else None

    def stdout_of(self, out):
        return "".join(m["content"]["text"] for m in out
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
