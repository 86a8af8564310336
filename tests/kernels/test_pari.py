"""The PARI kernel (bin/cellgate-pari) through stock Jupyter clients.

Run by `make test-kernels` with JUPYTER_PATH=build/share/jupyter, so
jupyter_client finds the kernelspec `pari` that `make` builds. The first
class is Debian's jupyter_kernel_test conformance suite; the second drives
what the suite does not: errors, interrupts, stack exhaustion, stdin,
stop_on_error, history, completion and inspection.
"""
import time
import unittest

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel
from kernel_session import KernelSession, collect


class PariConformance(jkt.KernelTests):
    kernel_name = "pari"
    language_name = "gp"
    file_extension = ".gp"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'printerr("oops")'
    completion_samples = [
        {"text": "factorin", "matches": {"factorint"}},
        {"text": "E = ellini", "matches": {"ellinit"}},
    ]
    complete_code_samples = ["1+1", "f(x) = x^2", "{\n  a = 1;\n}", 'print("}")']
    incomplete_code_samples = ["f(x) = {", "vector(3, i,", '"unterminated', "x = 1 +"]
    invalid_code_samples = ["1)", "]"]
    code_generate_error = "1/0"
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "factor(12)", "result": "[2 2]\n\n[3 1]"},
        {"code": "[1, 2; 3, 4]", "result": "[1 2]\n\n[3 4]"},
        {"code": "x^2 + 1", "result": "x^2 + 1"},
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "factor"


class PariBehaviour(KernelSession):
    kernel_name = "pari"

    def result_of(self, out):
        return self.result_data(out)

    def assert_alive(self):
        reply, out = self.run_cell("2+3")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.result_of(out)["text/plain"], "5")

    def test_result_formats(self):
        reply, out = self.run_cell("[1,2;3,4]")
        data = self.result_of(out)
        self.assertEqual(data["text/plain"], "[1 2]\n\n[3 4]")
        self.assertIn("pmatrix", data["text/latex"])
        self.assertTrue(data["text/latex"].startswith("$"))

    def test_semicolon_hides_result(self):
        reply, out = self.run_cell("a = 5;")
        self.assertEqual(reply["status"], "ok")
        self.assertIsNone(self.result_of(out))
        reply, out = self.run_cell("a^2")
        self.assertEqual(self.result_of(out)["text/plain"], "25")

    def test_error_reply(self):
        reply, out = self.run_cell("1/0")
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "e_INV")
        self.assertIn("impossible inverse", reply["evalue"])
        self.assertTrue(any(m["msg_type"] == "error" for m in out))
        reply, out = self.run_cell("foo(")
        self.assertEqual(reply["status"], "error")
        self.assertIn("syntax error", reply["evalue"])
        self.assert_alive()

    def test_metacommands(self):
        reply, out = self.run_cell("\\p 30\nPi")
        self.assertEqual(reply["status"], "ok")
        self.assertTrue(self.result_of(out)["text/plain"].startswith("3.14159265358979323846264338"))
        self.run_cell("\\p 38")

    def test_interrupt_message_and_signal(self):
        for _ in range(2):  # the second proves SIGINT was not left blocked
            msg_id = self.kc.execute("for(i=1,10^12,)")
            time.sleep(0.5)
            t0 = time.time()
            self.km.interrupt_kernel()
            reply, out = collect(self.kc, msg_id, timeout=10)
            self.assertLess(time.time() - t0, 5)
            self.assertEqual(reply["status"], "error")
            self.assertEqual(reply["ename"], "KeyboardInterrupt")
            self.assert_alive()

    def test_stack_exhaustion_is_an_error(self):
        reply, out = self.run_cell("v = vector(10^10, i, i);", timeout=120)
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "e_STACK")
        self.assert_alive()

    def test_stack_grows_on_demand(self):
        # 8 MB at start: a 10^6-vector of integers needs more
        reply, out = self.run_cell("#vector(10^6, i, i^2)")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.result_of(out)["text/plain"], "1000000")

    def test_stop_on_error_aborts_queued(self):
        # the failing cell runs a moment first, so the second is surely
        # queued behind it when it fails (only queued requests are aborted)
        first = self.kc.execute("for(i=1,3*10^6,); 1/0")
        second = self.kc.execute("b = 1")
        r1, _ = collect(self.kc, first)
        self.assertEqual(r1["status"], "error")
        r2, _ = collect(self.kc, second)
        self.assertEqual(r2["status"], "aborted")
        # without stop_on_error the next one runs
        first = self.kc.execute("1/0", stop_on_error=False)
        second = self.kc.execute("c = 2")
        self.assertEqual(collect(self.kc, first)[0]["status"], "error")
        self.assertEqual(collect(self.kc, second)[0]["status"], "ok")

    def test_silent(self):
        before, _ = self.run_cell("1")
        reply, out = self.run_cell("7*6", silent=True)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual([m for m in out if m["msg_type"] in ("execute_result", "execute_input")], [])
        after, _ = self.run_cell("1")
        self.assertEqual(after["execution_count"], before["execution_count"] + 1)

    def test_stdin(self):
        msg_id = self.kc.execute("y = input(\"y? \"); y^2", allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=10)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["content"]["prompt"], "y? ")
        self.kc.input("12")
        reply, out = collect(self.kc, msg_id)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.result_of(out)["text/plain"], "144")
        reply, out = self.run_cell("input()", allow_stdin=False)
        self.assertEqual(reply["status"], "error")

    def test_completion_of_user_names(self):
        self.run_cell("mysquare(x) = x^2\nmyvalue = 3;")
        self.kc.complete("my", 2)
        reply = self.kc.get_shell_msg(timeout=10)["content"]
        self.assertEqual(reply["status"], "ok")
        self.assertTrue({"mysquare", "myvalue"} <= set(reply["matches"]))
        self.assertEqual((reply["cursor_start"], reply["cursor_end"]), (0, 2))

    def test_inspect(self):
        self.kc.inspect("isprime(", 8)
        reply = self.kc.get_shell_msg(timeout=10)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("isprime(x", reply["data"]["text/plain"])
        self.run_cell("cube(x) = x^3;")
        self.kc.inspect("cube", 4)
        reply = self.kc.get_shell_msg(timeout=10)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("x^3", reply["data"]["text/plain"])
        self.kc.inspect("nosuchname", 3)
        self.assertFalse(self.kc.get_shell_msg(timeout=10)["content"]["found"])

    def test_kernel_info_on_control(self):
        msg = self.kc.session.msg("kernel_info_request")
        self.kc.control_channel.send(msg)
        reply = self.kc.get_control_msg(timeout=10)
        self.assertEqual(reply["content"]["language_info"]["name"], "gp")
        self.assertEqual(reply["content"]["protocol_version"], "5.3")

    def test_comm_info(self):
        self.kc.comm_info()
        reply = self.kc.get_shell_msg(timeout=10)["content"]
        self.assertEqual(reply, {"status": "ok", "comms": {}})

    def test_hostile_input(self):
        reply, _ = self.run_cell("1+" * 200000 + "1")
        self.assertIn(reply["status"], ("ok", "error"))
        reply, _ = self.run_cell("(" * 100000 + "1" + ")" * 100000)
        self.assertIn(reply["status"], ("ok", "error"))
        reply, _ = self.run_cell('"unterminated')
        self.assertEqual(reply["status"], "error")
        # megabytes of code in one cell: 4 MB of statements
        reply, out = self.run_cell("x = 1;\n" * 600000 + "x + 1", timeout=120)
        self.assertIn(reply["status"], ("ok", "error"))
        if reply["status"] == "ok":
            self.assertEqual(self.result_of(out)["text/plain"], "2")
        self.assert_alive()


class PariRestart(unittest.TestCase):
    def test_restart_and_shutdown(self):
        km, kc = start_new_kernel(kernel_name="pari")
        try:
            collect(kc, kc.execute("z = 99"))
            km.restart_kernel(now=False)
            kc.wait_for_ready(timeout=30)
            reply, out = collect(kc, kc.execute("z"))
            data = [m["content"]["data"] for m in out if m["msg_type"] == "execute_result"]
            self.assertEqual(data[-1]["text/plain"], "z")  # a fresh session
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
        self.assertFalse(km.is_alive())


if __name__ == "__main__":
    unittest.main()
