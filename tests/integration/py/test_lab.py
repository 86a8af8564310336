"""JupyterLab served by cellgate: the /lab page and its page config, the
built assets (MIME types, caching, gzip), the lab APIs (settings,
workspaces, translations), /files/, the quiet events socket, and the
answers for features cellgate lacks. The assets come from build/lab (`make`
builds web/ there); tests/browser drives the application itself."""
import glob
import gzip
import json
import os
import re
import socket

import pytest
import requests
import websocket

from conftest import REPO, Server, run_server

pytestmark = pytest.mark.cellgate_only(reason="cellgate's JupyterLab build and /lab API")

LAB = os.path.join(REPO, "build", "lab")
TRACKER = "@jupyterlab/notebook-extension:tracker"


@pytest.fixture(scope="module", autouse=True)
def lab_built():
    assert os.path.exists(os.path.join(LAB, "static", "main.js")), \
        "build/lab is not built: run make (it builds web/)"


def page_config(html):
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, html[:500]
    return json.loads(m.group(1))


def json_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"message", "reason"}, body
    return body["message"]


# ------------------------------------------------------------- the page

def test_root_redirects_to_lab(server):
    r = server.request("GET", "/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/lab"
    # the token given in the URL goes on to the page
    r = server.request("GET", f"/?token={server.token}", token=None, allow_redirects=False)
    assert r.headers["location"] == f"/lab?token={server.token}"
    # with the header, a query token that is no token is not carried on
    r = server.request("GET", "/?token=a%20b%3Cc%22", allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/lab"
    r = server.request("GET", "/?token=a%0d%0aSet-Cookie:%20x", allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith("/lab")
    assert r.headers["location"] == "/lab" and "x" not in r.cookies


def test_lab_page_needs_the_token(server):
    """Without credentials, a page leads to the login form (the token is
    asked for there), never to the application."""
    for path, token in (("/lab", None), ("/lab/tree/x.ipynb", "wrong"), ("/", None)):
        r = server.request("GET", path, token=token, allow_redirects=False)
        assert r.status_code == 302, (path, r.status_code)
        assert r.headers["location"].startswith("/login?next="), r.headers


def test_page_holds_the_token_it_was_loaded_with(server):
    """The page config carries the token of the request, never the server's
    own: a page loaded with the login cookie holds none (the browser then
    sends the cookie and the _xsrf double submit)."""
    s = requests.Session()
    r = s.get(f"{server.url}/lab?token={server.token}", timeout=30)
    assert page_config(r.text)["token"] == server.token
    r = s.get(f"{server.url}/lab", timeout=30)
    assert r.status_code == 200
    assert page_config(r.text)["token"] == ""


def test_lab_page_config(server):
    r = server.request("GET", f"/lab?token={server.token}", token=None)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    cfg = page_config(r.text)
    with open(os.path.join(LAB, "build.json")) as f:
        version = json.load(f)["jupyterlab"]
    expect = {
        "baseUrl": "/", "wsUrl": "", "token": server.token, "appUrl": "/lab", "appName": "JupyterLab",
        "appVersion": version, "fullStaticUrl": "/static/lab", "themesUrl": "/lab/api/themes",
        "fullThemesUrl": "/lab/api/themes", "settingsUrl": "/lab/api/settings",
        "fullSettingsUrl": "/lab/api/settings", "workspacesApiUrl": "/lab/api/workspaces",
        "translationsApiUrl": "/lab/api/translations", "fullLabextensionsUrl": "/lab/extensions",
        "federated_extensions": [], "mode": "multiple-document", "workspace": "default",
        "treePath": "", "terminalsAvailable": False, "notebookVersion": "[2, 14, 0]",
        "buildAvailable": False, "buildCheck": False, "appendToken": "true",
    }
    for key, value in expect.items():
        assert cfg.get(key) == value, (key, cfg.get(key))
    assert "@jupyterlab/apputils-extension:announcements" in cfg["disabledExtensions"]
    assert '<script src="/static/lab/main.js" defer></script>' in r.text


def test_lab_page_routes(server):
    cfg = page_config(server.request("GET", "/lab/tree/dir/a%20b.ipynb").text)
    assert cfg["treePath"] == "dir/a b.ipynb" and cfg["workspace"] == "default"
    cfg = page_config(server.request("GET", "/lab/workspaces/mine").text)
    assert cfg["workspace"] == "mine" and cfg["treePath"] == ""
    cfg = page_config(server.request("GET", "/lab/workspaces/mine/tree/x.ipynb").text)
    assert cfg["workspace"] == "mine" and cfg["treePath"] == "x.ipynb"
    cfg = page_config(server.request("GET", "/lab/doc/tree/x.ipynb").text)
    assert cfg["mode"] == "single-document" and cfg["treePath"] == "x.ipynb"


def test_tree_path_cannot_end_the_script(server):
    r = server.request("GET", "/lab/tree/%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C!--")
    assert r.status_code == 200
    assert r.text.count("</script>") == 2  # the config's and main.js's own
    assert "<script>alert" not in r.text and "<!--" not in r.text
    assert page_config(r.text)["treePath"] == "</script><script>alert(1)<!--"


# ------------------------------------------------------------- assets

def test_static_main_js(server):
    r = server.request("GET", "/static/lab/main.js", token=None, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert "content-encoding" not in r.headers
    with open(os.path.join(LAB, "static", "main.js"), "rb") as f:
        assert r.content == f.read()
    etag = r.headers["etag"]
    r304 = server.request("GET", "/static/lab/main.js", token=None,
                          headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b""


def test_static_gzip(server):
    status, headers, body = server.raw_request("GET", "/static/lab/main.js", token=None,
                                               headers={"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    with open(os.path.join(LAB, "static", "main.js"), "rb") as f:
        assert gzip.decompress(body) == f.read()
    # gzip;q=0 refuses it
    status, headers, body = server.raw_request("GET", "/static/lab/main.js", token=None,
                                               headers={"Accept-Encoding": "gzip;q=0"})
    assert status == 200 and "content-encoding" not in headers


def test_static_hashed_files_are_immutable(server):
    chunks = [os.path.basename(p) for p in glob.glob(os.path.join(LAB, "static", "*.js"))
              if re.search(r"\.[0-9a-f]{20}\.js$", p)]
    fonts = [os.path.basename(p) for p in glob.glob(os.path.join(LAB, "static", "*.woff2"))]
    assert chunks and fonts
    r = server.request("GET", f"/static/lab/{chunks[0]}", token=None)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert "max-age=31536000" in r.headers["cache-control"]
    r = server.request("GET", f"/static/lab/{fonts[0]}", token=None)
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2"
    assert "content-encoding" not in r.headers


def raw_refused(server, path, token=True):
    """(status, headers, body) of a hostile request; a NUL in the URL makes
    libwebsockets hang up before any handler runs: (None, {}, b"")."""
    import http.client
    try:
        return server.raw_request("GET", path, token=token)
    except http.client.RemoteDisconnected:
        assert "%00" in path, path
        return None, {}, b""


def test_static_bad_paths(server):
    json_error(server.request("GET", "/static/lab/no-such-file.js", token=None), 404)
    for path in ["/static/lab/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/lab/..%2f..%2fbuild.json",
                 "/static/lab/a%00b.js", "/static/lab/.hidden"]:
        status, headers, body = raw_refused(server, path, token=None)
        assert status in (None, 400, 403, 404), (path, status, body[:200])
        assert status is None or headers["content-type"] == "application/json"
        assert b"root:" not in body and b"jupyterlab" not in body
    # HEAD: the headers without the body
    status, headers, body = server.raw_request("HEAD", "/static/lab/main.js", token=None)
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_themes(server):
    for theme, var in [("theme-light-extension", "--jp-layout-color0: white"),
                       ("theme-dark-extension", "--jp-layout-color0: #111")]:
        r = server.request("GET", f"/lab/api/themes/@jupyterlab/{theme}/index.css", token=None)
        assert r.status_code == 200, (theme, r.status_code)
        assert r.headers["content-type"] == "text/css; charset=utf-8"
        assert "@import" not in r.text and "--jp-layout-color0" in r.text, theme
    json_error(server.request("GET", "/lab/api/themes/@jupyterlab/nothing/index.css"), 404)


# ------------------------------------------------------------- settings

def test_settings_list(server):
    r = server.request("GET", "/lab/api/settings?ids_only=true")
    assert r.status_code == 200
    ids = [p["id"] for p in r.json()["settings"]]
    assert TRACKER in ids and "@jupyterlab/apputils-extension:themes" in ids
    assert all(set(p) == {"id"} for p in r.json()["settings"])
    full = server.request("GET", "/lab/api/settings").json()["settings"]
    assert [p["id"] for p in full] == ids
    tracker = next(p for p in full if p["id"] == TRACKER)
    assert {"id", "raw", "schema", "settings", "version"} <= set(tracker)
    assert tracker["schema"]["type"] == "object"


def test_settings_round_trip(server):
    plugin = "@jupyterlab/apputils-extension:themes"
    r = server.request("GET", f"/lab/api/settings/{plugin}")
    assert r.status_code == 200
    before = r.json()
    assert before["id"] == plugin and before["schema"]["properties"]["theme"]
    raw = '{\n  // the dark one\n  "theme": "JupyterLab Dark", /* trailing comma: */\n}\n'
    r = server.request("PUT", f"/lab/api/settings/{plugin}", json={"raw": raw})
    assert r.status_code == 204, r.text
    after = server.request("GET", f"/lab/api/settings/{plugin}").json()
    assert after["raw"] == raw
    assert after["settings"] == {"theme": "JupyterLab Dark"}
    assert "last_modified" in after and "created" in after
    # kept in the state directory, not the workspace
    stored = os.path.join(server.state, "lab", "user-settings", "@jupyterlab", "apputils-extension",
                          "themes.jupyterlab-settings")
    with open(stored) as f:
        assert f.read() == raw
    assert not glob.glob(os.path.join(server.workspace, "**", "*.jupyterlab-settings"), recursive=True)
    # back to the defaults
    assert server.request("PUT", f"/lab/api/settings/{plugin}", json={"raw": "{}"}).status_code == 204
    assert server.request("GET", f"/lab/api/settings/{plugin}").json()["settings"] == {}


def test_settings_bad_input(server):
    url = f"/lab/api/settings/{TRACKER}"
    json_error(server.request("PUT", url, data=b"{not json"), 400)
    json_error(server.request("PUT", url, json={"raw": 5}), 400)
    json_error(server.request("PUT", url, json={"no": "raw"}), 400)
    assert "line" in json_error(server.request("PUT", url, json={"raw": "{\"a\": }"}), 400)
    json_error(server.request("PUT", url, json={"raw": "[1, 2]"}), 400)
    json_error(server.request("PUT", url, json={"raw": "{\"a\": 1, \"a\": 2}"}), 400)
    json_error(server.request("PUT", url, json={"raw": "{\"x\": \"" + "y" * (1 << 20) + "\"}"}), 413)
    # a plugin without a schema cannot be stored
    json_error(server.request("GET", "/lab/api/settings/@jupyterlab/nothing:here"), 404)
    json_error(server.request("PUT", "/lab/api/settings/@jupyterlab/nothing:here", json={"raw": "{}"}), 404)
    for bad in ["@jupyterlab/notebook-extension", "@x/y:..", "a:b/c", ":x", "@a/b:c%20d"]:
        json_error(server.request("GET", f"/lab/api/settings/{bad}"), 400)
    # libwebsockets resolves the dots first: outside /lab/api/settings
    json_error(server.request("GET", "/lab/api/settings/..%2F..%2F..%2Fetc:passwd"), 404)
    json_error(server.request("PUT", "/lab/api/settings", json={"raw": "{}"}), 405)
    json_error(server.request("GET", "/lab/api/settings", token=None), 403)
    # still what it was
    assert server.request("GET", url).json()["raw"] == "{}"


# ------------------------------------------------------------- workspaces

def test_workspaces(server):
    empty = server.request("GET", "/lab/api/workspaces/fresh").json()
    assert empty == {"data": {}, "metadata": {"id": "fresh"}}
    ws = {"data": {"layout-restorer:data": {"main": {"current": "notebook:a.ipynb"}}},
          "metadata": {"id": "fresh"}}
    assert server.request("PUT", "/lab/api/workspaces/fresh", json=ws).status_code == 204
    got = server.request("GET", "/lab/api/workspaces/fresh").json()
    assert got["data"] == ws["data"] and got["metadata"]["id"] == "fresh"
    assert "last_modified" in got["metadata"] and "created" in got["metadata"]
    listed = server.request("GET", "/lab/api/workspaces").json()["workspaces"]
    assert "fresh" in listed["ids"] and len(listed["ids"]) == len(listed["values"])
    assert os.path.exists(os.path.join(server.state, "lab", "workspaces", "fresh.jupyterlab-workspace"))
    assert server.request("DELETE", "/lab/api/workspaces/fresh").status_code == 204
    json_error(server.request("DELETE", "/lab/api/workspaces/fresh"), 404)
    assert "fresh" not in server.request("GET", "/lab/api/workspaces").json()["workspaces"]["ids"]


def test_workspaces_bad_input(server):
    json_error(server.request("PUT", "/lab/api/workspaces/w", json={"data": []}), 400)
    json_error(server.request("PUT", "/lab/api/workspaces/w", json={"data": {}, "metadata": {"id": "other"}}), 400)
    json_error(server.request("PUT", "/lab/api/workspaces/w", data=b"\xff\xfe"), 400)
    for bad in ["a%20b", ".hidden", "x" * 200, "a:b"]:
        json_error(server.request("GET", f"/lab/api/workspaces/{bad}"), 400)
    json_error(server.request("PUT", "/lab/api/workspaces", json={}), 405)


# ------------------------------------------------------------- translations

def test_translations(server):
    r = server.request("GET", "/lab/api/translations").json()
    assert r["data"]["en"]["displayName"] == "English" and r["message"] == ""
    assert server.request("GET", "/lab/api/translations/en").json() == {"data": {}, "message": ""}
    r = server.request("GET", "/lab/api/translations/fr_FR").json()
    assert r["data"] == {} and "not installed" in r["message"]


# ------------------------------------------------------------- /files/

def test_files(server):
    html = "<script>document.title = 'from the workspace'</script>"
    r = server.request("PUT", "/api/contents/page.html", json={"type": "file", "format": "text", "content": html})
    assert r.status_code == 201, r.text
    r = server.request("GET", "/files/page.html")
    assert r.status_code == 200 and r.text == html
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == "sandbox allow-scripts"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in r.headers
    r = server.request("GET", "/files/page.html?download=1")
    assert r.headers["content-disposition"].startswith('attachment; filename="page.html"')
    r304 = server.request("GET", "/files/page.html", headers={"If-None-Match": r.headers["etag"]})
    assert r304.status_code == 304


def test_files_bad_paths(server):
    json_error(server.request("GET", "/files/page.html", token=None), 403)
    json_error(server.request("GET", "/files/nothing.txt"), 404)
    server.request("PUT", "/api/contents/adir", json={"type": "directory"})
    json_error(server.request("GET", "/files/adir"), 404)
    for path in ["/files/%2e%2e/state/itest-sentinel", "/files/..%2f..%2fetc%2fpasswd", "/files/a%00b"]:
        status, headers, body = raw_refused(server, path)
        assert status in (None, 400, 403, 404), (path, status)
        assert b"state-secret" not in body and b"root:" not in body
    os.symlink("/etc/passwd", os.path.join(server.workspace, "escape"))
    try:
        status, _, body = server.raw_request("GET", "/files/escape")
        assert status == 403 and b"root:" not in body
    finally:
        os.unlink(os.path.join(server.workspace, "escape"))


# ------------------------------------------------------------- absent features

def test_events_socket_is_quiet(server):
    ws = websocket.create_connection(f"{server.ws_base}/api/events/subscribe",
                                     header=[f"Authorization: token {server.token}"], timeout=5)
    try:
        ws.send('{"anything": 1}')  # one-way: ignored
        ws.settimeout(1)
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(f"{server.ws_base}/api/events/subscribe", timeout=5)
    assert e.value.status_code == 403
    assert server.alive()


def test_nbconvert_offers_no_formats(server):
    r = server.request("GET", "/api/nbconvert")
    assert r.status_code == 200 and r.json() == {}


# ------------------------------------------------------------- no build

@pytest.fixture(scope="module")
def server_without_lab(tmp_path_factory):
    yield from run_server(Server(False, ["--lab-dir", str(tmp_path_factory.mktemp("nolab"))]))


def test_missing_build_is_a_clear_404(server_without_lab):
    s = server_without_lab
    for path in ["/lab", "/static/lab/main.js", "/lab/api/settings", "/lab/api/themes/x/index.css"]:
        assert "make" in json_error(s.request("GET", path), 404), path
    # the rest of the server does not care
    assert s.request("GET", "/api/status").status_code == 200
