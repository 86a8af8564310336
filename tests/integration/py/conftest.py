"""Integration fixtures: one real server for the whole test session.

By default the server is cellgate (env CELLGATE_BIN, default bin/cellgate
under the repository root), started as

    cellgate serve --ip 127.0.0.1 --port P --token T --root WS --state STATE
                   --kernelspec-dir KSPECS

With CELLGATE_REFERENCE=1 the same tests run against Debian's Jupyter Server
1.23 instead, so they can be checked against the reference; tests only
cellgate can pass are skipped there (mark `cellgate_only`), and a few
assertions branch on `server.reference` where the reference is known to
behave worse (documented next to each one).

Other settings (env):
  CELLGATE_START_TIMEOUT   seconds to wait for GET /api/status (10; 30 for the reference)
  CELLGATE_STOP_GRACE      seconds between SIGTERM and SIGKILL at the end (5)
  CELLGATE_TEST_TMPDIR     where the temporary tree goes (/var/tmp: not under
                           /tmp, so the sandbox's private /tmp does not hide
                           the state directory by accident)
  CELLGATE_KEEP_TMP=1      keep the temporary tree (logs, workspace) afterwards

Run with /usr/bin/python3 -m pytest (Debian's pytest, requests, websocket-client).
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests
import websocket

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
REFERENCE = os.environ.get("CELLGATE_REFERENCE", "") not in ("", "0")
NOBODY = 65534
V1 = "v1.kernel.websocket.jupyter.org"
# a kernelspec whose process exits at once (see test_sandbox.py)
FALSE_KERNEL = "cg-false"
# ipykernel with interrupt_mode "message": interrupts go as interrupt_request on control
MESSAGE_INTERRUPT_KERNEL = "cg-python3-msgint"
# a kernel that sends broken and forged messages (hostile_kernel.py)
HOSTILE_KERNEL = "cg-hostile"


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def pytest_sessionstart(session):
    # `timeout` sends SIGTERM: turn it into an interrupt so fixtures tear down
    signal.signal(signal.SIGTERM, _sigterm)


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies, however it dies."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def pytest_collection_modifyitems(config, items):
    if not REFERENCE:
        return
    for item in items:
        m = item.get_closest_marker("cellgate_only")
        if m:
            why = m.kwargs.get("reason", "the reference runs kernels unsandboxed")
            item.add_marker(pytest.mark.skip(reason=f"cellgate only: {why}"))


def pytest_report_header(config):
    return "server under test: " + ("Jupyter Server (reference)" if REFERENCE else cellgate_bin())


def cellgate_bin():
    b = os.environ.get("CELLGATE_BIN", "bin/cellgate")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(ppid, starttime, state) of pid from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[1]), int(rest[19]), rest[0]
    except (OSError, ValueError, IndexError):
        return None


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root_pid):
    """{(pid, starttime): cmdline} of every process whose parent chain reaches root_pid."""
    children = {}
    info = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st:
            info[int(d)] = st
            children.setdefault(st[0], []).append(int(d))
    out, pending = {}, list(children.get(root_pid, []))
    while pending:
        p = pending.pop()
        out[(p, info[p][1])] = proc_cmdline(p)
        pending.extend(children.get(p, []))
    return out


def alive_procs(keys):
    """The (pid, starttime) keys that still name a live (non-zombie) process."""
    out = []
    for pid, start in keys:
        st = proc_stat(pid)
        if st and st[1] == start and st[2] != "Z":
            out.append((pid, start))
    return out


# ---------------------------------------------------------------- v1 protocol

def kernel_descendants(server):
    """descendants(server.pid) but the server's spare launch child
    (sandbox/spare.c): a child still running the server's own program, made
    for the next kernel, part of no running one."""
    own = proc_cmdline(server.pid)
    return {k: v for k, v in descendants(server.pid).items() if v != own}


def v1_pack(channel, msg):
    """Serialise a message dict for v1.kernel.websocket.jupyter.org."""
    parts = [json.dumps(msg.get(k, {})).encode() for k in ("header", "parent_header", "metadata", "content")]
    parts += list(msg.get("buffers", []))
    ch = channel.encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(ch))
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    head = struct.pack("<Q", len(offsets)) + b"".join(struct.pack("<Q", o) for o in offsets)
    return head + ch + b"".join(parts)


def v1_unpack(data):
    """Parse a v1 binary frame into a legacy-shaped dict (with "channel")."""
    n = struct.unpack_from("<Q", data, 0)[0]
    offs = [struct.unpack_from("<Q", data, 8 * (i + 1))[0] for i in range(n)]
    assert offs and offs[-1] == len(data), f"v1 frame: last offset {offs[-1:]} != length {len(data)}"
    ch = data[offs[0]:offs[1]].decode()
    parts = [data[offs[i]:offs[i + 1]] for i in range(1, len(offs) - 1)]
    msg = {"channel": ch}
    for k, p in zip(("header", "parent_header", "metadata", "content"), parts):
        msg[k] = json.loads(p) if p else {}
    msg["buffers"] = parts[4:]
    return msg


def make_msg(msg_type, content, session, channel="shell", metadata=None):
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "itest",
                       "session": session, "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": metadata or {}, "content": content,
            "channel": channel, "buffers": []}


class KernelWS:
    """One kernel WebSocket; speaks legacy JSON or v1 binary frames."""

    def __init__(self, ws, session, subprotocol):
        self.ws, self.session, self.subprotocol = ws, session, subprotocol

    def send(self, channel, msg_type, content, metadata=None):
        msg = make_msg(msg_type, content, self.session, channel, metadata)
        if self.subprotocol == V1:
            self.ws.send_binary(v1_pack(channel, msg))
        else:
            self.ws.send(json.dumps(msg))
        return msg["header"]["msg_id"]

    def send_raw(self, data, binary=False):
        if binary:
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def recv(self, timeout=None):
        """Next message as a dict (legacy shape), or None on timeout."""
        if timeout is not None:
            self.ws.settimeout(timeout)
        try:
            op, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        if op == websocket.ABNF.OPCODE_CLOSE:
            raise websocket.WebSocketConnectionClosedException("closed by server")
        if self.subprotocol == V1:
            return v1_unpack(data)
        if op == websocket.ABNF.OPCODE_BINARY:
            raise AssertionError("binary frame on the legacy protocol: %r" % data[:80])
        return json.loads(data)

    def recv_until(self, pred, timeout):
        """Messages until pred(msg) is true; returns (match, all seen). Raises on timeout."""
        seen, end = [], time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message within %.1fs; saw %s" %
                                   (timeout, [m.get("header", {}).get("msg_type") for m in seen]))
            m = self.recv(timeout=left)
            if m is None:
                continue
            seen.append(m)
            if pred(m):
                return m, seen

    def kernel_info(self, timeout=30):
        mid = self.send("shell", "kernel_info_request", {})
        m, _ = self.recv_until(lambda m: m.get("header", {}).get("msg_type") == "kernel_info_reply"
                               and m.get("parent_header", {}).get("msg_id") == mid, timeout)
        return m

    @property
    def connected(self):
        return self.ws.connected

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:  # noqa: BLE001 - closing a dead socket
            pass


class ExecResult:
    def __init__(self, reply, msgs):
        self.reply = reply            # execute_reply content
        self.msgs = msgs              # every iopub message with this parent
        self.stdout = "".join(m["content"]["text"] for m in msgs
                              if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stdout")
        self.stderr = "".join(m["content"]["text"] for m in msgs
                              if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stderr")
        self.result = None
        self.error = None
        for m in msgs:
            mt = m["header"]["msg_type"]
            if mt == "execute_result":
                self.result = m["content"]["data"].get("text/plain")
            elif mt == "error":
                self.error = (m["content"]["ename"], m["content"]["evalue"])

    @property
    def ok(self):
        return self.reply.get("status") == "ok"

    def json(self):
        """The last stdout line parsed as JSON (tests print their findings)."""
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        assert lines, "no stdout; reply=%r stderr=%r error=%r" % (self.reply, self.stderr, self.error)
        return json.loads(lines[-1])

    def __repr__(self):
        return "ExecResult(status=%r, stdout=%r, stderr=%r, result=%r, error=%r)" % (
            self.reply.get("status"), self.stdout[-400:], self.stderr[-400:], self.result, self.error)


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, reference, extra_args=()):
        self.reference = reference
        self.extra_args = list(extra_args)  # more cellgate flags
        self.token = uuid.uuid4().hex + uuid.uuid4().hex
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.ws_base = f"ws://{self.host}:{self.port}"
        base = os.environ.get("CELLGATE_TEST_TMPDIR", "/var/tmp")
        self.tmp = tempfile.mkdtemp(prefix="cellgate-itest-", dir=base)
        os.chmod(self.tmp, 0o755)  # the kernel user must reach the workspace
        self.workspace = os.path.join(self.tmp, "workspace")
        self.state = os.path.join(self.tmp, "state")
        self.jupyter_path = os.path.join(self.tmp, "jupyter")
        self.kernelspec_dir = os.path.join(self.jupyter_path, "kernels")
        self.log_path = os.path.join(self.tmp, "server.log")
        os.makedirs(self.workspace)
        os.chmod(self.workspace, 0o777)
        if os.geteuid() == 0:
            os.chown(self.workspace, NOBODY, NOBODY)
        os.makedirs(self.state, mode=0o700)
        # a file the sandbox must not be able to read
        with open(os.path.join(self.state, "itest-sentinel"), "w") as f:
            f.write("state-secret-" + uuid.uuid4().hex)
        os.chmod(os.path.join(self.state, "itest-sentinel"), 0o644)
        kd = os.path.join(self.kernelspec_dir, FALSE_KERNEL)
        os.makedirs(kd)
        with open(os.path.join(kd, "kernel.json"), "w") as f:
            json.dump({"argv": ["/bin/false"], "display_name": "exits at once", "language": "none"}, f)
        kd = os.path.join(self.kernelspec_dir, HOSTILE_KERNEL)
        os.makedirs(kd)
        script = os.path.join(kd, "hostile_kernel.py")
        shutil.copy(os.path.join(os.path.dirname(__file__), "hostile_kernel.py"), script)
        os.chmod(script, 0o644)  # the kernel's user reads it inside the sandbox
        with open(os.path.join(kd, "kernel.json"), "w") as f:
            json.dump({"argv": ["/usr/bin/python3", script, "{connection_file}"],
                       "display_name": "lies", "language": "none"}, f)
        kd = os.path.join(self.kernelspec_dir, MESSAGE_INTERRUPT_KERNEL)
        os.makedirs(kd)
        with open(os.path.join(kd, "kernel.json"), "w") as f:
            json.dump({"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                       "display_name": "Python 3 (message interrupts)", "language": "python",
                       "interrupt_mode": "message"}, f)
        os.chmod(self.jupyter_path, 0o755)
        self.proc = None
        self.pid = None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        self._kernels = set()

    def install_native(self, name):
        """Puts the built native kernel `name` (build/share/jupyter/kernels)
        into this server's kernelspec directory, its binary beside it: the
        checkout may sit where the sandbox cannot see it (a private /tmp) or
        where nobody may not enter (a 0700 directory). False if not built."""
        src = os.path.join(REPO, "build", "share", "jupyter", "kernels", name)
        if not os.path.exists(os.path.join(src, "kernel.json")):
            return False
        dst = os.path.join(self.kernelspec_dir, name)
        if os.path.exists(dst):
            return True
        shutil.copytree(src, dst)
        with open(os.path.join(dst, "kernel.json")) as f:
            spec = json.load(f)
        binary = os.path.join(dst, os.path.basename(spec["argv"][0]))
        shutil.copy(spec["argv"][0], binary)
        spec["argv"][0] = binary
        with open(os.path.join(dst, "kernel.json"), "w") as f:
            json.dump(spec, f)
        for root, dirs, files in os.walk(dst):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for fname in files:
                os.chmod(os.path.join(root, fname), 0o755 if fname == os.path.basename(binary) else 0o644)
        return True

    # -- lifecycle
    def argv(self):
        if self.reference:
            return ["/usr/bin/python3", "-m", "jupyter_server", "--allow-root", "--no-browser",
                    f"--ip={self.host}", f"--port={self.port}", "--port-retries=0",
                    f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.workspace}"]
        return [cellgate_bin(), "serve", "--ip", self.host, "--port", str(self.port),
                "--token", self.token, "--root", self.workspace, "--state", self.state,
                "--kernelspec-dir", self.kernelspec_dir] + self.extra_args

    def start(self):
        env = dict(os.environ)
        if self.reference:
            env["JUPYTER_PATH"] = self.jupyter_path
            env["JUPYTER_RUNTIME_DIR"] = os.path.join(self.state, "runtime")
        else:
            b = cellgate_bin()
            if not os.access(b, os.X_OK):
                pytest.exit(f"{b} is not built (run make, or set CELLGATE_BIN; "
                            "CELLGATE_REFERENCE=1 runs against Jupyter Server)", returncode=2)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.tmp,
                                     preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        limit = float(os.environ.get("CELLGATE_START_TIMEOUT", "30" if self.reference else "10"))
        end = time.monotonic() + limit
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            try:
                r = self.session.get(self.url + "/api/status", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not answer GET /api/status within {limit}s ({last}):\n{self.log_tail()}")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def alive(self):
        """The process runs and answers GET /api/status."""
        if self.proc.poll() is not None:
            return False
        try:
            return self.session.get(self.url + "/api/status", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        """SIGTERM, SIGKILL after the grace period. Returns a list of problems."""
        problems = []
        if self.proc.poll() is not None:
            return [f"server had already exited with {self.proc.returncode}:\n{self.log_tail()}"]
        grace = float(os.environ.get("CELLGATE_STOP_GRACE", "5"))
        before = descendants(self.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            if not self.reference:  # Jupyter Server 1.23 often hangs after SIGTERM
                problems.append(f"server did not exit within {grace}s of SIGTERM; killed")
        if self.proc.poll() is None:
            problems.append("server still running after SIGKILL")
        # whatever it started must be gone too
        end = time.monotonic() + 5
        left = alive_procs(before)
        while left and time.monotonic() < end:
            time.sleep(0.1)
            left = alive_procs(before)
        if left:
            problems.append("processes left behind after the server exited: %s" %
                            [(p, before[(p, s)]) for p, s in left])
            for pid, _ in left:  # ours: started by the server we started
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.log.close()
        return problems

    def cleanup(self):
        if os.environ.get("CELLGATE_KEEP_TMP"):
            print(f"\nkept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- HTTP
    def request(self, method, path, token=True, timeout=60, **kw):
        """HTTP to the server. token=True: the server's token in the header;
        None/False: no credentials; a string: that token in the header."""
        headers = dict(kw.pop("headers", None) or {})
        if token is True:
            headers["Authorization"] = f"token {self.token}"
        elif isinstance(token, str):
            headers["Authorization"] = f"token {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kw)

    def raw_request(self, method, path, headers=None, body=b"", timeout=30, token=True):
        """Sends the request line exactly as given (no path normalisation).
        Returns (status, headers dict lower-cased, body bytes)."""
        import http.client
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = f"token {self.token}"
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        if body or method in ("POST", "PUT", "PATCH"):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body or None)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    # -- kernels
    def start_kernel(self, name="python3", wait=True, timeout=60):
        r = self.request("POST", "/api/kernels", json={"name": name})
        assert r.status_code == 201, (r.status_code, r.text)
        kid = r.json()["id"]
        self._kernels.add(kid)
        if wait:
            self.wait_kernel_ready(kid, timeout)
        return kid

    def wait_kernel_ready(self, kid, timeout=60):
        """kernel_info_request until a reply (a kernel may need a moment)."""
        end = time.monotonic() + timeout
        while True:
            ws = None
            try:
                ws = self.ws_connect(kid)
                ws.kernel_info(timeout=min(5, max(0.5, end - time.monotonic())))
                return
            except (TimeoutError, websocket.WebSocketException, OSError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
            finally:
                if ws:
                    ws.close()

    def delete_kernel(self, kid):
        r = self.request("DELETE", f"/api/kernels/{kid}")
        self._kernels.discard(kid)
        return r

    def shutdown_kernels(self):
        for kid in list(self._kernels):
            try:
                self.delete_kernel(kid)
            except requests.RequestException:
                pass

    def ws_url(self, kernel_id, session_id=None, token=None):
        q = f"session_id={session_id or uuid.uuid4().hex}"
        if token:
            q += f"&token={token}"
        return f"{self.ws_base}/api/kernels/{kernel_id}/channels?{q}"

    def ws_connect(self, kernel_id, session_id=None, subprotocol=None, token=True, timeout=30):
        """A KernelWS. token=True: header with the server's token; None/False:
        no credentials; a string: that token (header). subprotocol=V1 offers
        v1.kernel.websocket.jupyter.org; None offers nothing (legacy JSON).
        Raises websocket.WebSocketBadStatusException when the upgrade is refused."""
        session_id = session_id or uuid.uuid4().hex
        header = []
        if token is True:
            header.append(f"Authorization: token {self.token}")
        elif isinstance(token, str):
            header.append(f"Authorization: token {token}".rstrip())
        kw = {}
        if subprotocol:
            kw["subprotocols"] = [subprotocol]
        ws = websocket.create_connection(
            self.ws_url(kernel_id, session_id), header=header, timeout=timeout,
            sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),), **kw)
        chosen = ws.getsubprotocol()
        if subprotocol:
            assert chosen == subprotocol, f"server chose subprotocol {chosen!r}, offered {subprotocol!r}"
        else:
            assert not chosen, f"server chose subprotocol {chosen!r} though none was offered"
        return KernelWS(ws, session_id, chosen or None)

    def execute(self, kernel_id, code, timeout=30, ws=None, allow_error=False, stop_on_error=True,
                cell_id=None):
        """execute_request over the legacy protocol; collects iopub messages of
        this request until status idle and the execute_reply. Returns ExecResult.
        stop_on_error=False for a cell expected to fail (an interrupt): ipykernel
        then does not abort what arrives right after its reply. cell_id goes in
        the request's metadata, as JupyterLab sends it."""
        own = ws is None
        if own:
            ws = self.ws_connect(kernel_id)
        try:
            mid = ws.send("shell", "execute_request",
                          {"code": code, "silent": False, "store_history": True,
                           "user_expressions": {}, "allow_stdin": False,
                           "stop_on_error": stop_on_error},
                          {"cellId": cell_id} if cell_id else None)
            reply, idle, msgs = None, False, []
            end = time.monotonic() + timeout
            while reply is None or not idle:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"execute timed out after {timeout}s: reply={reply!r} idle={idle} "
                                       f"iopub={[m['header']['msg_type'] for m in msgs]}")
                m = ws.recv(timeout=left)
                if m is None or m.get("parent_header", {}).get("msg_id") != mid:
                    continue
                mt = m["header"]["msg_type"]
                if m.get("channel") == "shell" and mt == "execute_reply":
                    reply = m["content"]
                elif m.get("channel") == "iopub":
                    if mt == "status":
                        idle = idle or m["content"].get("execution_state") == "idle"
                    elif mt != "execute_input":
                        msgs.append(m)
            res = ExecResult(reply, msgs)
            if not allow_error:
                assert res.ok, res
            return res
        finally:
            if own:
                ws.close()


def run_server(s):
    """Starts s, yields it, stops it and fails if it left anything behind."""
    try:
        s.start()
    except Exception:
        s.kill()
        s.cleanup()
        raise
    try:
        yield s
    finally:
        s.shutdown_kernels()
        problems = s.stop()
        if problems:
            print("\nserver log tail:\n" + s.log_tail(), file=sys.stderr)
        s.cleanup()
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def server():
    yield from run_server(Server(REFERENCE))


@pytest.fixture(scope="module")
def kernel(server):
    """One python3 kernel shared by a module's tests."""
    kid = server.start_kernel()
    yield kid
    server.delete_kernel(kid)


def execution_record(server, msg_id, timeout=60):
    """The execution record of the execute_request msg_id, as
    GET /api/cellgate/execution/{id} serves it. The record's id is found in
    the server's real store (records are written in batches, so it waits)."""
    import sqlite3
    db = os.path.join(server.state, "store.sqlite")
    end = time.monotonic() + timeout
    while True:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            row = con.execute("SELECT id FROM executions WHERE json_extract(record, '$.msg_id') = ?",
                              (msg_id,)).fetchone()
        finally:
            con.close()
        if row or time.monotonic() > end:
            break
        time.sleep(0.3)
    assert row, f"no execution record of {msg_id}"
    r = server.request("GET", "/api/cellgate/execution/" + row[0])
    assert r.status_code == 200, r.text
    return r.json()
