"""Login as Jupyter does, against the real server: the login cookie a token
in the URL sets, the login form, logout, the `next` redirect, the XSRF
double submit, and the Origin and Host checks (DESIGN.md, security rules
5 to 7).

cellgate only: Jupyter Server names and signs its cookie differently and
redirects differently; these tests pin cellgate's own behaviour.
"""
import os
import socket
import stat
import time
import urllib.parse

import pytest
import requests
import websocket

from conftest import REFERENCE, Server, run_server

pytestmark = pytest.mark.cellgate_only(reason="cellgate's login cookie, XSRF and Host rules")

EVIL = "http://evil.example"


def cookie_name(server):
    return f"cellgate-{server.host.replace('.', '-')}-{server.port}"


def set_cookies(r):
    """{name: full Set-Cookie value} of a response."""
    out = {}
    for v in r.raw.headers.getlist("Set-Cookie"):
        out[v.split("=", 1)[0]] = v
    return out


def attrs(set_cookie):
    """The attributes of a Set-Cookie value, names lower-cased."""
    parts = [p.strip() for p in set_cookie.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts}


def login(server):
    """A requests.Session holding only cookies, logged in by ?token= in a URL."""
    s = requests.Session()
    r = s.get(server.url + f"/api/status?token={server.token}", timeout=30)
    assert r.status_code == 200, r.text
    assert s.cookies.get(cookie_name(server)), r.headers
    assert s.cookies.get("_xsrf"), r.headers
    return s


def cookie_header(s):
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def assert_json_403(r):
    assert r.status_code == 403, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"message", "reason"} and body["reason"] == "Forbidden"


def ws_connect(server, kid, header, **kw):
    return websocket.create_connection(server.ws_url(kid), header=header, timeout=30, **kw)


def kernel_info_over(ws, session="login-test"):
    import json
    import uuid
    mid = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": mid, "msg_type": "kernel_info_request", "username": "t",
                                   "session": session, "date": "", "version": "5.3"},
                        "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}))
    end = time.monotonic() + 60
    while time.monotonic() < end:
        m = json.loads(ws.recv())
        if m.get("parent_header", {}).get("msg_id") == mid and m["header"]["msg_type"] == "kernel_info_reply":
            return m
    raise TimeoutError("no kernel_info_reply")


# ---------------------------------------------------------------- the cookie

def test_token_in_url_sets_signed_httponly_cookie(server):
    r = requests.get(server.url + f"/api/kernels?token={server.token}", timeout=30)
    assert r.status_code == 200
    cookies = set_cookies(r)
    login_cookie = cookies[cookie_name(server)]
    a = attrs(login_cookie)
    assert a.get("httponly") is True
    assert a.get("path") == "/"
    assert a.get("samesite") == "Lax"
    value = login_cookie.split(";")[0].split("=", 1)[1]
    assert server.token not in value
    # the _xsrf cookie comes with it, readable by the page's scripts
    x = attrs(cookies["_xsrf"])
    assert "httponly" not in x and x.get("path") == "/" and x.get("samesite") == "Lax"
    # a header-authenticated request gets no cookie
    r = server.request("GET", "/api/kernels")
    assert r.status_code == 200 and not set_cookies(r)


def test_cookie_authenticates_rest(server):
    s = login(server)
    r = s.get(server.url + "/api/kernels", timeout=30)
    assert r.status_code == 200, r.text
    # no new cookie once one is held
    assert not set_cookies(s.get(server.url + f"/api/status?token={server.token}", timeout=30))
    assert_json_403(requests.get(server.url + "/api/kernels", timeout=30))


def test_cookie_authenticates_websocket(server, kernel):
    s = login(server)
    ws = ws_connect(server, kernel, [f"Cookie: {cookie_header(s)}"])
    try:
        reply = kernel_info_over(ws)
        assert reply["content"]["status"] == "ok"
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        ws_connect(server, kernel, [])
    assert e.value.status_code == 403


def tampered(value, i):
    c = value[i]
    return value[:i] + ("0" if c != "0" else "1") + value[i + 1:]


def test_tampered_cookie_refused(server, kernel):
    s = login(server)
    name = cookie_name(server)
    value = s.cookies.get(name)
    version, issued, nonce, mac = value.split(".")
    positions = [0, 2, 2 + len(issued) + 1, len(value) - 1, len(value) - 40]
    for i in positions:
        bad = tampered(value, i)
        assert bad != value
        r = requests.get(server.url + "/api/kernels", headers={"Cookie": f"{name}={bad}"}, timeout=30)
        assert_json_403(r)
    # the right value under another server's name does not count either
    r = requests.get(server.url + "/api/kernels", headers={"Cookie": f"cellgate-other-1={value}"},
                     timeout=30)
    assert_json_403(r)
    # a signed cookie made later (a new issue time) needs a new MAC
    forged = f"{version}.{int(issued) + 100}.{nonce}.{mac}"
    assert_json_403(requests.get(server.url + "/api/kernels", headers={"Cookie": f"{name}={forged}"},
                                 timeout=30))
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        ws_connect(server, kernel, [f"Cookie: {name}={tampered(value, len(value) - 1)}"])
    assert e.value.status_code == 403


def test_cookie_secret_in_state_mode_0600(server):
    path = os.path.join(server.state, "cookie_secret")
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    for root, dirs, files in os.walk(server.workspace):
        assert "cookie_secret" not in files


def test_old_cookie_refused_after_token_change():
    srv = Server(False)
    gen = run_server(srv)
    next(gen)
    try:
        s = login(srv)
        old = s.cookies.get(cookie_name(srv))
        assert s.get(srv.url + "/api/kernels", timeout=30).status_code == 200
        with open(os.path.join(srv.state, "cookie_secret")) as f:
            secret = f.read()
        # same token, restarted: the cookie still works (the secret persists)
        assert srv.stop() == []
        srv.start()
        assert s.get(srv.url + "/api/kernels", timeout=30).status_code == 200
        # a new token: the cookie signed under the old one is refused
        assert srv.stop() == []
        srv.token = srv.token[::-1]
        srv.session.headers["Authorization"] = f"token {srv.token}"
        srv.start()
        with open(os.path.join(srv.state, "cookie_secret")) as f:
            assert f.read() == secret
        r = requests.get(srv.url + "/api/kernels", headers={"Cookie": f"{cookie_name(srv)}={old}"},
                         timeout=30)
        assert_json_403(r)
        assert login(srv).get(srv.url + "/api/kernels", timeout=30).status_code == 200
    finally:
        try:
            next(gen)
        except StopIteration:
            pass


# ---------------------------------------------------------------- login and logout

def test_page_without_credentials_redirects_to_login(server):
    r = requests.get(server.url + "/lab?reset", allow_redirects=False, timeout=30)
    assert r.status_code == 302
    loc = urllib.parse.urlsplit(r.headers["location"])
    assert loc.path == "/login" and not loc.netloc
    assert urllib.parse.parse_qs(loc.query)["next"] == ["/lab?reset="]
    for path in ("/", "/tree/a", "/lab/tree/x.ipynb"):
        r = requests.get(server.url + path, allow_redirects=False, timeout=30)
        assert r.status_code == 302 and r.headers["location"].startswith("/login?next="), path
    # the token never ends up in next
    r = requests.get(server.url + "/lab?token=wrong&_xsrf=x", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "wrong" not in r.headers["location"]
    # APIs answer 403 JSON, not a redirect
    for path in ("/api/kernels", "/lab/api/settings", "/api/sessions"):
        assert_json_403(requests.get(server.url + path, allow_redirects=False, timeout=30))


def login_form(server, s, next_=None):
    params = {"next": next_} if next_ is not None else None
    r = s.get(server.url + "/login", params=params, timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert 'name="password"' in r.text and 'name="_xsrf"' in r.text
    xsrf = s.cookies.get("_xsrf")
    assert xsrf and f'value="{xsrf}"' in r.text
    return xsrf


def test_login_page_escapes_and_locks_down(server):
    r = requests.get(server.url + "/login", params={"next": '/lab/"><script>alert(1)</script>'}, timeout=30)
    assert r.status_code == 200
    assert "<script" not in r.text and "alert(1)" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert r.headers["cache-control"] == "no-store"


def test_login_form_right_and_wrong_token(server):
    s = requests.Session()
    xsrf = login_form(server, s)
    # the wrong token: the form again, 403, no login cookie
    r = s.post(server.url + "/login", data={"password": "nope", "_xsrf": xsrf}, allow_redirects=False,
               timeout=30)
    assert r.status_code == 403 and "Invalid token" in r.text
    assert cookie_name(server) not in set_cookies(r)
    assert_json_403(s.get(server.url + "/api/kernels", timeout=30))
    # no _xsrf: refused before the token is even looked at
    r = s.post(server.url + "/login", data={"password": server.token}, allow_redirects=False, timeout=30)
    assert_json_403(r)
    assert cookie_name(server) not in set_cookies(r)
    r = s.post(server.url + "/login", data={"password": server.token, "_xsrf": "x" + xsrf},
               allow_redirects=False, timeout=30)
    assert_json_403(r)
    # the right one: the cookie, and off to next
    r = s.post(server.url + "/login", data={"password": server.token, "_xsrf": xsrf, "next": "/lab/tree/a b"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    assert r.headers["location"] == "/lab/tree/a%20b"
    assert attrs(set_cookies(r)[cookie_name(server)]).get("httponly") is True
    assert s.get(server.url + "/api/kernels", timeout=30).status_code == 200
    # `token` as the field's name works too
    s2 = requests.Session()
    xsrf2 = login_form(server, s2)
    r = s2.post(server.url + "/login", data={"token": server.token, "_xsrf": xsrf2}, allow_redirects=False,
                timeout=30)
    assert r.status_code == 302 and r.headers["location"] == "/"
    # logged in, the login page sends you on
    r = s.get(server.url + "/login", params={"next": "/lab"}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["location"] == "/lab"


def test_logout_clears_cookie(server):
    s = login(server)
    r = s.get(server.url + "/logout", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    c = set_cookies(r)[cookie_name(server)]
    assert c.startswith(cookie_name(server) + "=;") and attrs(c).get("max-age") == "0"
    assert_json_403(s.get(server.url + "/api/kernels", timeout=30))


HOSTILE_NEXT = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
    "http://evil.example", "https://evil.example/", "https:evil.example", "javascript:alert(1)",
    "evil.example", "", " //evil.example", "/%2f%2fevil.example", "%2f%2fevil.example",
    "/%2F%2Fevil.example", "/%5cevil.example", "/%5C%5Cevil.example", "/%252f%252fevil.example",
    "/%25252f%25252fevil.example", "/\r\nLocation: http://evil.example", "/%0d%0aLocation:%20http://evil",
    "/\t/evil.example", "/%09/evil.example", "/..//evil.example", "/lab/../../evil",
    "/lab/%2e%2e/%2e%2e/evil", "/%00//evil.example",
]


def assert_lands_inside(server, location):
    u = urllib.parse.urlsplit(location)
    assert not u.scheme and not u.netloc, location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    # what a browser makes of it
    joined = urllib.parse.urlsplit(urllib.parse.urljoin(server.url + "/login", location))
    assert joined.netloc == f"{server.host}:{server.port}", location


@pytest.mark.parametrize("next_", HOSTILE_NEXT)
def test_open_redirect_refused(server, next_):
    # after a login by form
    s = requests.Session()
    xsrf = login_form(server, s)
    r = s.post(server.url + "/login", data={"password": server.token, "_xsrf": xsrf, "next": next_},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302
    assert r.headers["location"] == "/", r.headers["location"]
    assert_lands_inside(server, r.headers["location"])
    # and when already logged in (cookie), straight from the login page
    r = s.get(server.url + "/login", params={"next": next_}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["location"] == "/"
    # the form does not carry it either
    r = requests.get(server.url + "/login", params={"next": next_}, timeout=30)
    assert r.status_code == 200 and 'name="next" value="/"' in r.text


def test_open_redirect_raw_request_line(server):
    """The same values as the browser would send them, unencoded by any client."""
    s = login(server)
    for raw in ("//evil.example", "/%2F%2Fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
                "/%252F%252Fevil.example", "http:%2F%2Fevil.example", "/%0D%0ALocation:%20http://evil"):
        status, headers, _ = server.raw_request("GET", f"/login?next={raw}", token=False,
                                                headers={"Cookie": cookie_header(s)})
        assert status == 302, raw
        assert headers["location"] == "/", (raw, headers["location"])
    # libwebsockets ends a query value at an encoded CR: what is left must
    # still land inside, and no header be injected
    status, headers, _ = server.raw_request("GET", "/login?next=%2Fx%0D%0ALocation:%20http://evil",
                                            token=False, headers={"Cookie": cookie_header(s)})
    assert status == 302 and headers["location"] in ("/", "/x")
    assert_lands_inside(server, headers["location"])


@pytest.mark.parametrize("next_", ["/lab", "/lab/tree/nb.ipynb", "/lab?reset", "/api/status",
                                   "/lab/tree/100%25.ipynb"])
def test_next_inside_is_kept(server, next_):
    s = login(server)
    r = s.get(server.url + "/login", params={"next": next_}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["location"] == next_


# ---------------------------------------------------------------- XSRF

def put_file(server, s, name, headers=None, params=None, token=False):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"token {server.token}"
    return s.put(server.url + f"/api/contents/{name}", headers=h, params=params, timeout=60,
                 json={"type": "file", "format": "text", "content": "xsrf test\n"})


def test_xsrf_on_cookie_authenticated_changes(server):
    s = login(server)
    xsrf = s.cookies.get("_xsrf")
    # no header: refused, and nothing written
    assert_json_403(put_file(server, s, "xsrf-none.txt"))
    assert not os.path.exists(os.path.join(server.workspace, "xsrf-none.txt"))
    assert_json_403(s.post(server.url + "/api/kernels", json={"name": "python3"}, timeout=60))
    assert_json_403(s.delete(server.url + "/api/contents/xsrf-none.txt", timeout=60))
    # a wrong one, or one without its cookie
    assert_json_403(put_file(server, s, "xsrf-bad.txt", {"X-XSRFToken": xsrf + "0"}))
    assert_json_403(requests.put(server.url + "/api/contents/xsrf-bad.txt", timeout=60,
                                 headers={"Cookie": f"{cookie_name(server)}={s.cookies.get(cookie_name(server))}",
                                          "X-XSRFToken": xsrf},
                                 json={"type": "file", "format": "text", "content": "x"}))
    # the header, or the query parameter: done
    r = put_file(server, s, "xsrf-header.txt", {"X-XSRFToken": xsrf})
    assert r.status_code == 201, r.text
    r = put_file(server, s, "xsrf-query.txt", params={"_xsrf": xsrf})
    assert r.status_code == 201, r.text
    r = s.delete(server.url + "/api/contents/xsrf-query.txt", headers={"X-XSRFToken": xsrf}, timeout=60)
    assert r.status_code == 204, r.text
    # GET needs none
    assert s.get(server.url + "/api/contents/xsrf-header.txt", timeout=60).status_code == 200


def test_token_authenticated_changes_need_no_xsrf(server):
    r = put_file(server, requests.Session(), "xsrf-token.txt", token=True)
    assert r.status_code == 201, r.text
    r = requests.put(server.url + f"/api/contents/xsrf-token-q.txt?token={server.token}", timeout=60,
                     json={"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 201, r.text
    # even with a foreign Origin: a page elsewhere cannot know the token
    r = put_file(server, requests.Session(), "xsrf-token-o.txt", headers={"Origin": EVIL}, token=True)
    assert r.status_code == 201, r.text


def test_files_download_with_cookie_needs_xsrf(server):
    s = login(server)
    xsrf = s.cookies.get("_xsrf")
    assert put_file(server, s, "dl.txt", {"X-XSRFToken": xsrf}).status_code == 201
    assert_json_403(s.get(server.url + "/files/dl.txt", timeout=30))
    # with it (as JupyterLab's download URLs carry it), the request gets past
    # the gate: 200 where /files/ is served, 404 where it is not
    r = s.get(server.url + "/files/dl.txt", params={"_xsrf": xsrf}, timeout=30)
    assert r.status_code in (200, 404), r.text
    r = requests.get(server.url + f"/files/dl.txt?token={server.token}", timeout=30)
    assert r.status_code in (200, 404), r.text


# ---------------------------------------------------------------- Origin

def test_foreign_origin_on_cookie_websocket_refused(server, kernel):
    s = login(server)
    cookie = f"Cookie: {cookie_header(s)}"
    for origin in (EVIL, "null", f"http://{server.host}:{server.port + 1}"):
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            ws_connect(server, kernel, [cookie], origin=origin)
        assert e.value.status_code == 403, origin
    # the server's own origin is fine
    ws = ws_connect(server, kernel, [cookie], origin=f"http://{server.host}:{server.port}")
    try:
        assert kernel_info_over(ws)["content"]["status"] == "ok"
    finally:
        ws.close()
    # the token needs no Origin check (Jupyter Server does the same)
    ws = ws_connect(server, kernel, [f"Authorization: token {server.token}"], origin=EVIL)
    ws.close()


def test_foreign_origin_on_cookie_change_refused(server):
    s = login(server)
    xsrf = s.cookies.get("_xsrf")
    r = put_file(server, s, "origin-evil.txt", {"X-XSRFToken": xsrf, "Origin": EVIL})
    assert_json_403(r)
    r = put_file(server, s, "origin-own.txt",
                 {"X-XSRFToken": xsrf, "Origin": f"http://{server.host}:{server.port}"})
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- Host

@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}",
                                  "127.0.0.1.nip.io:{port}", "10.0.0.1:{port}"])
def test_bad_host_refused(server, kernel, host):
    host = host.format(port=server.port)
    r = server.request("GET", "/api/status", headers={"Host": host})
    assert_json_403(r)
    assert "Host" in r.json()["message"]
    # the login page too, and the WebSocket
    assert_json_403(requests.get(server.url + "/login", headers={"Host": host}, timeout=30))
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(server.ws_url(kernel), timeout=30, host=host,
                                    header=[f"Authorization: token {server.token}"])
    assert e.value.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}",
                                  "127.0.0.1", "localhost"])
def test_good_host_allowed(server, host):
    r = server.request("GET", "/api/status", headers={"Host": host.format(port=server.port)})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def allowing_server():
    yield from run_server(Server(REFERENCE, extra_args=[
        "--allow-host", "notebooks.example, other.example:9",
        "--allow-origin", "https://app.example"]))


def test_allow_host_and_origin_options(allowing_server):
    srv = allowing_server
    assert srv.request("GET", "/api/status", headers={"Host": "notebooks.example"}).status_code == 200
    assert srv.request("GET", "/api/status", headers={"Host": "notebooks.example:443"}).status_code == 200
    assert srv.request("GET", "/api/status", headers={"Host": "other.example:9"}).status_code == 200
    assert_json_403(srv.request("GET", "/api/status", headers={"Host": "other.example:10"}))
    assert_json_403(srv.request("GET", "/api/status", headers={"Host": "evil.example"}))
    s = login(srv)
    xsrf = s.cookies.get("_xsrf")
    r = put_file(srv, s, "allowed-origin.txt", {"X-XSRFToken": xsrf, "Origin": "https://app.example"})
    assert r.status_code == 201, r.text
    assert_json_403(put_file(srv, s, "other-origin.txt", {"X-XSRFToken": xsrf, "Origin": EVIL}))


# ---------------------------------------------------------------- logs

def test_no_credentials_in_log(server):
    """Run last in this module: whatever the tests above sent, the log holds
    no token, login cookie or _xsrf value (security rule 2)."""
    s = login(server)
    xsrf = s.cookies.get("_xsrf")
    # error paths too: a 500-free 4xx with every secret in the request
    requests.get(server.url + f"/nope?token={server.token}&_xsrf={xsrf}",
                 headers={"Cookie": cookie_header(s), "Referer": f"http://x/?token={server.token}"}, timeout=30)
    put_file(server, s, "../escape.txt", {"X-XSRFToken": xsrf})
    with open(server.log_path, "rb") as f:
        log = f.read().decode(errors="replace")
    # the one place the token belongs: the URL printed at start, as Jupyter does
    banner = f"http://{server.host}:{server.port}/?token={server.token}"
    assert banner in log
    log = log.replace(banner, "")
    for secret in (server.token, s.cookies.get(cookie_name(server)), xsrf):
        assert secret not in log


# ---------------------------------------------------------------- under a base URL

@pytest.fixture(scope="module")
def based_server():
    srv = Server(REFERENCE, extra_args=["--base-url", "/nb/"])
    srv.url += "/nb"
    srv.ws_base += "/nb"
    yield from run_server(srv)


def test_cookies_and_redirects_under_base_url(based_server):
    srv = based_server
    s = requests.Session()
    r = s.get(srv.url + f"/api/status?token={srv.token}", timeout=30)
    assert r.status_code == 200
    cookies = set_cookies(r)
    assert attrs(cookies[cookie_name(srv)]).get("path") == "/nb/"
    assert attrs(cookies["_xsrf"]).get("path") == "/nb/"
    assert s.get(srv.url + "/api/kernels", timeout=30).status_code == 200
    # pages lead to the login form under the base URL, and back
    r = requests.get(srv.url + "/lab", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["location"] == "/nb/login?next=/nb/lab"
    r = s.get(srv.url + "/login", params={"next": "/nb/lab"}, allow_redirects=False, timeout=30)
    assert r.headers["location"] == "/nb/lab"
    # outside the base URL, or hostile: the base URL
    for bad in ("/lab", "/nbx/lab", "//evil.example", "/nb//evil.example", "/nb/../x"):
        r = s.get(srv.url + "/login", params={"next": bad}, allow_redirects=False, timeout=30)
        assert r.status_code == 302 and r.headers["location"] == "/nb/", bad
    s2 = requests.Session()
    r = s2.get(srv.url + "/login", timeout=30)
    assert 'action="/nb/login"' in r.text
    r = s2.post(srv.url + "/login", data={"password": srv.token, "_xsrf": s2.cookies.get("_xsrf")},
                allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["location"] == "/nb/"
