"""Kernel life beyond the happy path: message-mode interrupts, a kernel that
dies under its clients, and restarting it. Runs on both servers."""
import os
import signal
import time

import pytest

from conftest import MESSAGE_INTERRUPT_KERNEL, REFERENCE, Server, descendants, run_server


def _busy_then_interrupt(server, kid, ws):
    # stop_on_error false: after an error ipykernel aborts the execute_requests it
    # handles before its abort window closes, which under load can be the next cell
    mid = ws.send("shell", "execute_request",
                  {"code": "import time; time.sleep(60)", "silent": False, "store_history": False,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": False})
    ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                  and m["content"].get("execution_state") == "busy"
                  and m.get("parent_header", {}).get("msg_id") == mid, 15)
    time.sleep(0.5)
    t0 = time.monotonic()
    assert server.request("POST", f"/api/kernels/{kid}/interrupt").status_code == 204
    m, _ = ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                         and m.get("parent_header", {}).get("msg_id") == mid, 15)
    return m["content"], time.monotonic() - t0


def test_message_mode_interrupt(server):
    """interrupt_mode "message": the server sends interrupt_request on control."""
    spec = server.request("GET", f"/api/kernelspecs/{MESSAGE_INTERRUPT_KERNEL}").json()
    assert spec["spec"]["interrupt_mode"] == "message"
    kid = server.start_kernel(MESSAGE_INTERRUPT_KERNEL)
    ws = server.ws_connect(kid)
    try:
        content, took = _busy_then_interrupt(server, kid, ws)
        assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt", content
        assert took < 5, took
    finally:
        ws.close()
    # ipykernel aborts what reaches it in the moment after an error reply
    # (stop_on_error; its abort window closes on its next loop turn, after
    # the idle status): a request that lands there is aborted, not lost
    res = server.execute(kid, "'still here'", allow_error=True)
    if res.reply.get("status") == "aborted":
        res = server.execute(kid, "'still here'")
    assert res.result == "'still here'"
    assert server.request("DELETE", f"/api/kernels/{kid}").status_code == 204


def _is_dead_status(m):
    return m["header"]["msg_type"] == "status" and m["content"].get("execution_state") == "dead"


def test_kernel_death_reaches_every_client_and_restart_recovers(server):
    kid = server.start_kernel()
    a, b = server.ws_connect(kid), server.ws_connect(kid)
    try:
        a.send("shell", "execute_request",
               {"code": "import os; os._exit(3)", "silent": False, "store_history": False,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        # both clients hear of it (Jupyter Server reports death through its restarter)
        for ws in (a, b):
            ws.recv_until(lambda m: _is_dead_status(m) or (
                m["header"]["msg_type"] == "status"
                and m["content"].get("execution_state") in ("restarting", "starting")), 30)
        # the server keeps serving meanwhile
        assert server.request("GET", "/api/status").status_code == 200
        if server.reference:
            # Jupyter Server's restarter brings it back by itself (and a
            # manual restart meanwhile races it into a 500)
            time.sleep(2)
            server.wait_kernel_ready(kid, 60)
        else:
            assert server.request("GET", f"/api/kernels/{kid}").json()["execution_state"] == "dead"
            r = server.request("POST", f"/api/kernels/{kid}/restart")
            assert r.status_code == 200, r.text
        assert server.execute(kid, "40 + 2").result == "42"
    finally:
        a.close()
        b.close()
    assert server.request("DELETE", f"/api/kernels/{kid}").status_code == 204


def test_dead_kernel_model_says_why(server, request):
    """cellgate keeps a dead kernel, with the reason, until it is restarted or deleted."""
    if server.reference:
        pytest.skip("Jupyter Server auto-restarts a dead kernel instead")
    kid = server.start_kernel()
    ws = server.ws_connect(kid)
    try:
        ws.send("shell", "execute_request",
                {"code": "import sys, os; sys.stderr.write('goodbye from the kernel\\n'); "
                         "sys.stderr.flush(); os._exit(3)",
                 "silent": False, "store_history": False, "user_expressions": {},
                 "allow_stdin": False, "stop_on_error": True})
        ws.recv_until(_is_dead_status, 30)
        model = server.request("GET", f"/api/kernels/{kid}").json()
        assert model["execution_state"] == "dead"
        assert "status 3" in model["reason"], model
        # a request to a dead kernel is answered, not dropped
        mid = ws.send("shell", "kernel_info_request", {})
        m, _ = ws.recv_until(lambda m: m["header"]["msg_type"] == "kernel_info_reply"
                             and m["parent_header"].get("msg_id") == mid, 10)
        assert m["content"]["status"] == "error" and m["content"]["ename"] == "KernelDead", m
    finally:
        ws.close()
    assert server.request("DELETE", f"/api/kernels/{kid}").status_code == 204


@pytest.fixture(scope="module")
def fast_heartbeat_server():
    """A cellgate of its own that checks heartbeats every 0.3 s."""
    if REFERENCE:
        pytest.skip("cellgate's --heartbeat flag")
    yield from run_server(Server(False, ["--heartbeat", "0.3"]))


def _kernel_python_pid(server):
    for (pid, _), cmd in descendants(server.pid).items():
        if "ipykernel_launcher" in cmd and "bwrap" not in cmd:
            return pid
    raise AssertionError("no ipykernel process under the server")


def test_silent_kernel_is_declared_dead_by_heartbeat(fast_heartbeat_server):
    server = fast_heartbeat_server
    kid = server.start_kernel()
    ws = server.ws_connect(kid)
    pid = _kernel_python_pid(server)
    try:
        # a stopped process answers nothing, heartbeats included
        os.kill(pid, signal.SIGSTOP)
        ws.recv_until(_is_dead_status, 15)
        model = server.request("GET", f"/api/kernels/{kid}").json()
        assert model["execution_state"] == "dead"
        assert "heartbeat" in model["reason"], model
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        ws.close()
    # its sandbox is gone, and a restart brings a working kernel back
    assert server.request("POST", f"/api/kernels/{kid}/restart").status_code == 200
    assert server.execute(kid, "6 * 7").result == "42"
    assert server.request("DELETE", f"/api/kernels/{kid}").status_code == 204
