"""The GAP kernel (bin/cellgate-gap) through stock Jupyter clients.

Run by `make test-kernels` with JUPYTER_PATH=build/share/jupyter, so
jupyter_client finds the kernelspec `gap` that `make` builds. The first
class is Debian's jupyter_kernel_test conformance suite; the second drives
what the suite does not: error replies without a break loop, `;;`,
interrupts, completion of global names and the manual on inspect.
"""
import time
import unittest

import jupyter_kernel_test as jkt
from kernel_session import KernelSession, collect


class GapConformance(jkt.KernelTests):
    kernel_name = "gap"
    language_name = "gap"
    file_extension = ".g"

    code_hello_world = 'Print("hello, world\\n");'
    completion_samples = [
        {"text": "SymmetricInverseMon", "matches": {"SymmetricInverseMonoid"}},
        {"text": "G := CyclicGr", "matches": {"CyclicGroup", "CyclicGroupCons"}},
    ]
    complete_code_samples = ["1+1;", "f := x -> x^2;", "for i in [1..3] do Print(i); od;",
                             'Print("od");']
    incomplete_code_samples = ["for i in [1..3] do", "f := function(x)", '"unterminated',
                               "Print(1,"]
    invalid_code_samples = ["1)", "od;"]
    code_generate_error = "1/0;"
    code_execute_result = [
        {"code": "6*7;", "result": "42"},
        {"code": "SymmetricGroup(4);", "result": "Sym( [ 1 .. 4 ] )"},
        {"code": "Factors(2^32+1)", "result": "[ 641, 6700417 ]"},
        {"code": "(1,2)(3,4)*(1,3);", "result": "(1,2,3,4)"},
    ]
    code_inspect_sample = "SymmetricGroup"


class GapBehaviour(KernelSession):
    kernel_name = "gap"

    def result_of(self, out):
        data = self.result_data(out)
        return data["text/plain"] if data else None

    def assert_alive(self):
        reply, out = self.run_cell("2+3;")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.result_of(out), "5")

    def test_double_semicolon_prints_nothing(self):
        reply, out = self.run_cell("a := 5;;")
        self.assertEqual(reply["status"], "ok")
        self.assertIsNone(self.result_of(out))
        self.assertEqual(self.stdout_of(out), "")
        reply, out = self.run_cell("a^2;")
        self.assertEqual(self.result_of(out), "25")

    def test_missing_final_semicolon_is_supplied(self):
        reply, out = self.run_cell("3*5")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.result_of(out), "15")

    def test_print_and_earlier_results_go_to_stdout(self):
        reply, out = self.run_cell('Print("x\\n"); 7; 8;')
        self.assertEqual(self.stdout_of(out), "x\n7\n")
        self.assertEqual(self.result_of(out), "8")

    def test_error_reply_without_break_loop(self):
        reply, out = self.run_cell("1/0;")
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "GAPError")
        self.assertIn("must not be zero", reply["evalue"])
        self.assertTrue(any(m["msg_type"] == "error" for m in out))
        # a break loop would swallow this as its own input
        self.assert_alive()
        reply, _ = self.run_cell('Error("boom");')
        self.assertEqual((reply["status"], reply["evalue"]), ("error", "boom"))
        reply, _ = self.run_cell("foo(;")
        self.assertEqual(reply["status"], "error")
        self.assert_alive()

    def test_interrupt_message_and_signal(self):
        for _ in range(2):  # twice within seconds: GAP's own handler would exit
            msg_id = self.kc.execute("for i in [1..10^12] do od;")
            time.sleep(0.5)
            t0 = time.time()
            self.km.interrupt_kernel()
            reply, out = collect(self.kc, msg_id, timeout=10)
            self.assertLess(time.time() - t0, 5)
            self.assertEqual(reply["status"], "error")
            self.assertEqual(reply["ename"], "KeyboardInterrupt")
            self.assert_alive()

    def test_stop_on_error_aborts_queued(self):
        # the failing cell runs a moment first, so the second is surely
        # queued behind it when it fails (only queued requests are aborted)
        first = self.kc.execute("for i in [1..2*10^7] do od; 1/0;")
        second = self.kc.execute("b := 1;")
        self.assertEqual(collect(self.kc, first)[0]["status"], "error")
        self.assertEqual(collect(self.kc, second)[0]["status"], "aborted")

    def test_completion_of_user_names(self):
        self.run_cell("mysquare := x -> x^2;; myvalue := 3;;")
        self.kc.complete("my", 2)
        reply = self.kc.get_shell_msg(timeout=10)["content"]
        self.assertEqual(reply["status"], "ok")
        self.assertTrue({"mysquare", "myvalue"} <= set(reply["matches"]))
        self.assertEqual((reply["cursor_start"], reply["cursor_end"]), (0, 2))

    def test_inspect(self):
        self.kc.inspect("Size(", 5)
        reply = self.kc.get_shell_msg(timeout=30)["content"]
        self.assertTrue(reply["found"])
        text = reply["data"]["text/plain"]
        self.assertIn("Size( listorcoll )", text)
        self.assertNotIn("\033[", text)
        self.run_cell("cube := x -> x^3;;")
        self.kc.inspect("cube", 4)
        reply = self.kc.get_shell_msg(timeout=30)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("function", reply["data"]["text/plain"])
        self.kc.inspect("nosuchname", 3)
        self.assertFalse(self.kc.get_shell_msg(timeout=30)["content"]["found"])

    def test_hostile_input(self):
        reply, _ = self.run_cell("1+" * 200000 + "1;")
        self.assertEqual(reply["status"], "ok")
        # GAP's reader recurses on the C stack: 100000 levels would kill it
        reply, _ = self.run_cell("(" * 100000 + "1" + ")" * 100000 + ";")
        self.assertEqual(reply["status"], "error")
        self.assertIn("deeper than", reply["evalue"])
        reply, out = self.run_cell("(" * 500 + "1" + ")" * 500 + ";")
        self.assertEqual(self.result_of(out), "1")
        reply, _ = self.run_cell('"unterminated')
        self.assertEqual(reply["status"], "error")
        reply, _ = self.run_cell("x := List([1..10^10], i -> i);;", timeout=120)
        self.assertEqual(reply["status"], "error")
        reply, _ = self.run_cell("r := function(n) return r(n+1); end;; r(1);", timeout=120)
        self.assertEqual(reply["status"], "error")
        # megabytes of code in one cell: 4 MB of statements
        reply, out = self.run_cell("x := 1;;\n" * 450000 + "x + 1;", timeout=120)
        self.assertIn(reply["status"], ("ok", "error"))
        if reply["status"] == "ok":
            self.assertEqual(self.result_of(out), "2")
        self.assert_alive()

    def test_character_table(self):
        reply, out = self.run_cell('Display(CharacterTable("A5"));')
        self.assertEqual(reply["status"], "ok")
        self.assertIn("X.5     5", self.stdout_of(out))


if __name__ == "__main__":
    unittest.main()
