"""A kernel is hostile input: broken and forged messages from it are dropped
(and logged), never forwarded, and never take the server down."""
import pytest

from conftest import HOSTILE_KERNEL

pytestmark = pytest.mark.cellgate_only


def test_broken_kernel_messages_are_dropped(server, kernel):
    kid = server.start_kernel(HOSTILE_KERNEL)
    try:
        res = server.execute(kid, "anything", timeout=20)
        # only the genuine output arrived: the forged "forged\n" (bad
        # signature) and the rest never reached the client
        assert res.stdout == "survived\n", res
        assert [m["header"]["msg_type"] for m in res.msgs] == ["stream"], res
        assert server.request("GET", "/api/status").status_code == 200
        assert server.execute(kernel, "'other kernels still work'").result == \
            "'other kernels still work'"
        log = server.log_tail(400)
        assert "dropped a message" in log and "signature" in log, log
    finally:
        server.request("DELETE", f"/api/kernels/{kid}")
