"""cellgate's native kernels (kernels/pari, kernels/gap) started by the server under its
sandbox: execute, error, interrupt (SIGINT through the REST API) and
restart over the WebSocket. Needs `make` to have built the kernelspec in
build/share/jupyter/kernels; the kernel runs as nobody, so the binary and
the kernelspec must be readable by nobody."""
import time

import pytest


def _install_native(server, name):
    if not server.install_native(name):
        pytest.skip(f"the {name} kernelspec is not built (make)")


@pytest.fixture(scope="module")
def pari(server):
    _install_native(server, "pari")
    kid = server.start_kernel("pari")
    yield kid
    server.request("DELETE", f"/api/kernels/{kid}")


def test_pari_kernelspec_is_listed(server, pari):
    spec = server.request("GET", "/api/kernelspecs/pari").json()
    assert spec["spec"]["language"] == "gp"
    assert "logo-64x64" in spec["resources"]


def test_pari_execute_and_error(server, pari):
    res = server.execute(pari, "factor(2^64+1)")
    # gp's matrix layout: columns right-aligned
    assert res.result == "[        274177 1]\n\n[67280421310721 1]"
    err = server.execute(pari, "1/0", allow_error=True)
    assert err.reply["status"] == "error" and err.reply["ename"] == "e_INV"
    assert server.execute(pari, "2+2").result == "4"


def test_pari_interrupt(server, pari):
    ws = server.ws_connect(pari)
    try:
        mid = ws.send("shell", "execute_request",
                      {"code": "for(i=1,10^12,)", "silent": False, "store_history": False,
                       "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                      and m["content"].get("execution_state") == "busy"
                      and m.get("parent_header", {}).get("msg_id") == mid, 15)
        time.sleep(0.5)
        t0 = time.monotonic()
        assert server.request("POST", f"/api/kernels/{pari}/interrupt").status_code == 204
        m, _ = ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                             and m.get("parent_header", {}).get("msg_id") == mid, 15)
        assert m["content"]["ename"] == "KeyboardInterrupt", m["content"]
        assert time.monotonic() - t0 < 5
    finally:
        ws.close()
    assert server.execute(pari, "3+3").result == "6"


def test_pari_restart(server, pari):
    server.execute(pari, "zz = 5;")
    assert server.request("POST", f"/api/kernels/{pari}/restart").status_code == 200
    server.wait_kernel_ready(pari)
    assert server.execute(pari, "zz").result == "zz"


@pytest.fixture(scope="module")
def gap(server):
    _install_native(server, "gap")
    kid = server.start_kernel("gap")
    yield kid
    server.request("DELETE", f"/api/kernels/{kid}")


def test_gap_execute_error_interrupt(server, gap):
    assert server.execute(gap, "Size(SymmetricGroup(5));").result == "120"
    err = server.execute(gap, "1/0;", allow_error=True)
    assert err.reply["status"] == "error" and err.reply["ename"] == "GAPError"
    ws = server.ws_connect(gap)
    try:
        mid = ws.send("shell", "execute_request",
                      {"code": "for i in [1..10^12] do od;", "silent": False,
                       "store_history": False, "user_expressions": {},
                       "allow_stdin": False, "stop_on_error": True})
        ws.recv_until(lambda m: m["header"]["msg_type"] == "status"
                      and m["content"].get("execution_state") == "busy"
                      and m.get("parent_header", {}).get("msg_id") == mid, 15)
        time.sleep(0.5)
        assert server.request("POST", f"/api/kernels/{gap}/interrupt").status_code == 204
        m, _ = ws.recv_until(lambda m: m["header"]["msg_type"] == "execute_reply"
                             and m.get("parent_header", {}).get("msg_id") == mid, 15)
        assert m["content"]["ename"] == "KeyboardInterrupt", m["content"]
    finally:
        ws.close()
    assert server.execute(gap, "3+3;").result == "6"
