"""The parts of the login that cellgate and Jupyter Server share, run against
both (CELLGATE_REFERENCE=1 runs them against Jupyter Server 1.23): a token
in a page's URL gives the browser an HttpOnly login cookie and an `_xsrf`
cookie; the cookie authenticates; changes it authenticates need the XSRF
double submit, token-authenticated ones do not; a foreign Host, and a
cookie WebSocket from a foreign Origin, are refused; `next` cannot leave the
server. Where the reference answers otherwise, the assertion says so.
"""
import urllib.parse

import pytest
import requests
import websocket

EVIL = "http://evil.example"


def page_login(server):
    """A session that loaded a page with the token in its URL; returns it and
    the name of its HttpOnly login cookie."""
    s = requests.Session()
    r = s.get(server.url + f"/lab?token={server.token}", allow_redirects=False, timeout=30)
    assert r.status_code in (200, 404), r.status_code  # 404: no /lab on this build
    login = [c for c in r.raw.headers.getlist("Set-Cookie") if "httponly" in c.lower()]
    assert len(login) == 1, r.raw.headers.getlist("Set-Cookie")
    assert "path=/" in login[0].lower()
    name = login[0].split("=", 1)[0]
    assert server.token not in login[0]
    assert s.cookies.get(name) and s.cookies.get("_xsrf")
    return s, name


def put(server, s, name, headers=None, token=False):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"token {server.token}"
    return s.put(server.url + f"/api/contents/{name}", headers=h, timeout=60,
                 json={"type": "file", "format": "text", "content": "parity\n"})


def test_token_url_cookie_and_xsrf(server):
    s, _ = page_login(server)
    assert s.get(server.url + "/api/kernels", timeout=30).status_code == 200
    assert put(server, s, "parity-none.txt").status_code == 403
    r = put(server, s, "parity-xsrf.txt", {"X-XSRFToken": s.cookies.get("_xsrf")})
    assert r.status_code == 201, r.text
    assert put(server, requests.Session(), "parity-token.txt", token=True).status_code == 201
    # a foreign Origin on a cookie change: refused (Jupyter Server answers 404)
    r = put(server, s, "parity-origin.txt", {"X-XSRFToken": s.cookies.get("_xsrf"), "Origin": EVIL})
    assert r.status_code == (404 if server.reference else 403)
    assert requests.get(server.url + "/api/kernels", timeout=30).status_code == 403


def test_foreign_host_refused(server):
    r = server.request("GET", "/api/status", headers={"Host": "evil.example"})
    assert r.status_code == 403
    r = server.request("GET", "/api/status", headers={"Host": f"localhost:{server.port}"})
    assert r.status_code == 200


def test_cookie_websocket_origin(server, kernel):
    s, _ = page_login(server)
    cookie = "Cookie: " + "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(server.ws_url(kernel), header=[cookie], origin=EVIL, timeout=30)
    assert e.value.status_code == 403
    websocket.create_connection(server.ws_url(kernel), header=[cookie], timeout=30).close()


@pytest.mark.parametrize("next_", ["//evil.example", "http://evil.example", "/\\evil.example"])
def test_next_cannot_leave(server, next_):
    s, _ = page_login(server)
    r = s.get(server.url + "/login", params={"next": next_}, allow_redirects=False, timeout=30)
    assert r.status_code == 302
    loc = r.headers["location"]
    if server.reference:
        # Jupyter Server 1.23 keeps some as an escaped path ("/%5Cevil.example"):
        # still this server
        u = urllib.parse.urlsplit(urllib.parse.urljoin(server.url + "/login", loc))
        assert u.netloc == f"{server.host}:{server.port}" and "\\" not in loc, loc
    else:
        assert loc == "/", loc
