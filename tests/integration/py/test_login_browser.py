"""Login in a real browser: Debian's Chromium, headless, driven over the
DevTools protocol with websocket-client (no other dependency).

What only a browser can show: that it keeps the login cookie from a token
URL with the attributes we set (HttpOnly hides it from scripts, the _xsrf
cookie stays readable), sends it on its own fetches and WebSockets, that the
login form works under its Content-Security-Policy, and that a page of
another origin cannot use the session.
"""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest
import websocket

from conftest import _die_with_parent, free_port

pytestmark = pytest.mark.cellgate_only(reason="cellgate's login pages")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    """One headless Chromium and a DevTools connection to its page."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cellgate-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
             f"--user-data-dir={self.dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        end = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.2)
        port = int(open(port_file).read().split()[0])
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        # Chromium refuses DevTools WebSockets that carry an Origin
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Network.enable")
        # our JSON answers say default-src 'none'; the test's scripts run in them
        self.call("Page.setBypassCSP", enabled=True)

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == mid:
                assert "error" not in m, (method, m["error"])
                return m["result"]
            self.events.append(m)

    def wait_event(self, name, timeout=60):
        end = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == name:
                    del self.events[:i + 1]
                    return m["params"]
            self.events.clear()
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(name)
            self.ws.settimeout(left)
            self.events.append(json.loads(self.ws.recv()))

    def goto(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        return self.eval("location.href")

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def cookies(self, url):
        return {c["name"]: c for c in self.call("Network.getCookies", urls=[url])["cookies"]}

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - the browser may be gone
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def cookie_name(server):
    return f"cellgate-{server.host.replace('.', '-')}-{server.port}"


def kernel_info_js(ws_url):
    """A script that opens the kernel WebSocket (no token) and resolves to the
    kernel_info_reply status, or to 'error'/'closed ...' if refused."""
    return """new Promise(resolve => {
      const ws = new WebSocket(%s);
      const id = 'k' + Math.random();
      ws.onopen = () => ws.send(JSON.stringify({header: {msg_id: id, msg_type: 'kernel_info_request',
          username: 'b', session: 'browser', date: '', version: '5.3'}, parent_header: {}, metadata: {},
          content: {}, channel: 'shell'}));
      ws.onmessage = e => { const m = JSON.parse(e.data);
          if (m.parent_header.msg_id === id && m.header.msg_type === 'kernel_info_reply') {
              ws.close(); resolve(m.content.status); } };
      ws.onerror = () => resolve('error');
      ws.onclose = e => resolve('closed ' + e.code);
      setTimeout(() => resolve('timeout'), 60000);
    })""" % json.dumps(ws_url)


PUT_JS = """fetch(%s, {method: 'PUT', credentials: 'include', headers: Object.assign(
    {'Content-Type': 'application/json'}, %s),
    body: JSON.stringify({type: 'file', format: 'text', content: 'from the browser'})}).then(r => r.status)"""


def no_cors_put_js(url):
    """A PUT another origin's script may send (no preflight), with cookies."""
    body = json.dumps({"type": "file", "format": "text", "content": "x"})
    return ("fetch(%s, {method: 'PUT', mode: 'no-cors', credentials: 'include', "
            "headers: {'Content-Type': 'text/plain'}, body: %s}).then(() => 1, () => 0)"
            % (json.dumps(url), json.dumps(body)))


def test_browser_token_url_cookie_xsrf_and_websocket(server, kernel, browser):
    href = browser.goto(f"{server.url}/api/status?token={server.token}")
    assert href.startswith(server.url)
    jar = browser.cookies(server.url + "/")
    c = jar[cookie_name(server)]
    assert c["httpOnly"] and c["sameSite"] == "Lax" and c["path"] == "/"
    assert not jar["_xsrf"]["httpOnly"]
    # scripts see _xsrf, never the login cookie
    visible = browser.eval("document.cookie")
    assert "_xsrf=" in visible and cookie_name(server) not in visible
    # the browser's own requests carry the cookie: no token from here on
    assert browser.eval("fetch('/api/kernels').then(r => r.status)") == 200
    url = json.dumps(server.url + "/api/contents/browser-xsrf.txt")
    assert browser.eval(PUT_JS % (url, "{}")) == 403
    assert not os.path.exists(os.path.join(server.workspace, "browser-xsrf.txt"))
    xsrf_header = "{'X-XSRFToken': document.cookie.match(/(?:^|; )_xsrf=([^;]*)/)[1]}"
    assert browser.eval(PUT_JS % (url, xsrf_header)) == 201
    assert os.path.exists(os.path.join(server.workspace, "browser-xsrf.txt"))
    # the WebSocket, as JupyterLab opens it: cookie only
    ws_url = f"{server.ws_base}/api/kernels/{kernel}/channels?session_id=browser"
    assert browser.eval(kernel_info_js(ws_url)) == "ok"


def test_browser_login_form(server, browser):
    href = browser.goto(f"{server.url}/lab")
    # no credentials: the login form, with where we were going
    assert browser.eval("location.pathname") == "/login", href
    assert browser.eval("new URLSearchParams(location.search).get('next')") == "/lab"
    # a wrong token: the form again
    browser.eval("document.getElementById('password').value = 'wrong'")
    browser.eval("setTimeout(() => document.forms[0].submit(), 0); true")
    browser.wait_event("Page.loadEventFired")
    assert browser.eval("location.pathname") == "/login"
    assert "Invalid token" in browser.eval("document.body.innerText")
    assert cookie_name(server) not in browser.cookies(server.url + "/")
    # the right one: the cookie, and on to next
    browser.eval("document.getElementById('password').value = %s" % json.dumps(server.token))
    browser.eval("setTimeout(() => document.forms[0].submit(), 0); true")
    browser.wait_event("Page.loadEventFired")
    assert browser.eval("location.pathname") == "/lab"
    assert server.token not in browser.eval("location.href")
    assert cookie_name(server) in browser.cookies(server.url + "/")
    assert browser.eval("fetch('/api/kernels').then(r => r.status)") == 200
    # logout
    browser.goto(f"{server.url}/logout")
    assert cookie_name(server) not in browser.cookies(server.url + "/")
    assert browser.eval("fetch('/api/kernels').then(r => r.status)") == 403


def test_browser_other_origin_cannot_use_the_session(server, kernel, browser):
    browser.goto(f"{server.url}/api/status?token={server.token}")
    assert cookie_name(server) in browser.cookies(server.url + "/")
    # another origin (localhost is another site than 127.0.0.1 to a browser,
    # and an allowed Host to the server): its scripts aim at the session
    other = f"http://localhost:{server.port}"
    browser.goto(other + "/login")
    assert browser.eval("location.origin") == other
    browser.eval(no_cors_put_js(server.url + "/api/contents/cross-origin.txt"))
    time.sleep(1)
    assert not os.path.exists(os.path.join(server.workspace, "cross-origin.txt"))
    ws_url = f"{server.ws_base}/api/kernels/{kernel}/channels?session_id=cross"
    assert browser.eval(kernel_info_js(ws_url)) in ("error", "closed 1006")


class _Blank(http.server.BaseHTTPRequestHandler):
    timeout = 10  # a connection the browser opens and leaves idle must not hold the server
    def do_GET(self):  # noqa: N802 - http.server's name
        body = b"<!DOCTYPE html><title>another origin</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_browser_same_site_other_port_refused_by_origin(server, kernel, browser):
    """A page on another port of the same host is the same *site*: the
    browser sends it the login cookie (SameSite=Lax does not stop it), so
    only the Origin check and XSRF stand in its way."""
    browser.goto(f"{server.url}/api/status?token={server.token}")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Blank)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        other = f"http://127.0.0.1:{httpd.server_port}"
        browser.goto(other + "/")
        assert browser.eval("location.origin") == other
        ws_url = f"{server.ws_base}/api/kernels/{kernel}/channels?session_id=same-site"
        assert browser.eval(kernel_info_js(ws_url)) in ("error", "closed 1006")
        browser.eval(no_cors_put_js(server.url + "/api/contents/same-site.txt"))
        time.sleep(1)
        assert not os.path.exists(os.path.join(server.workspace, "same-site.txt"))
    finally:
        httpd.shutdown()
        httpd.server_close()
