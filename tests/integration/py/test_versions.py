"""The notebook store behind the contents API, and /api/cellgate/.

Every notebook save through the contents API is a version; a file edited
on disk becomes a version by "filesystem" when it is next read; a save that
names a stale parent is refused with 409 and the current version; branches
are created, checked out into the working copy and deleted; two versions
diff cell by cell. The working copy is byte-identical to nbformat.write.
"""
import copy
import os
import uuid

import nbformat
import pytest
import requests

from test_api import assert_json_error

pytestmark = pytest.mark.cellgate_only(reason="cellgate's own store and /api/cellgate/")

HEX = set("0123456789abcdef")


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def contents(server, method, path, **kw):
    return server.request(method, "/api/contents/" + path, **kw)


def cg(server, method, path, **kw):
    return server.request(method, "/api/cellgate/" + path, **kw)


def fresh_dir(server):
    d = "v-" + uuid.uuid4().hex[:8]
    r = contents(server, "PUT", d, json={"type": "directory"})
    assert r.status_code == 201, r.text
    return d


def make_nb(n=3, prefix="c"):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
                "name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"id": f"{prefix}{i}", "cell_type": "code", "source": f"x = {i}\nprint(x)",
                       "metadata": {}, "execution_count": i + 1,
                       "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{i}\n"}]}
                      for i in range(n)]}


def save(server, path, nb, **kw):
    r = contents(server, "PUT", path, json={"type": "notebook", "content": nb, **kw.pop("body", {})}, **kw)
    return r


def version_of(r):
    v = r.headers.get("X-Cellgate-Version")
    assert v and len(v) == 32 and set(v) <= HEX, (r.status_code, dict(r.headers), r.text[:300])
    return v


def log(server, path, **params):
    r = cg(server, "GET", "versions/" + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def expected_bytes(nb):
    """What nbformat.write writes for nb."""
    s = nbformat.writes(nbformat.from_dict(copy.deepcopy(nb)))
    return (s if s.endswith("\n") else s + "\n").encode()


def disk(server, path):
    with open(os.path.join(server.workspace, path), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- saves

def test_every_save_is_a_version_and_the_file_is_nbformat_write(server):
    d = fresh_dir(server)
    p = f"{d}/a.ipynb"
    nb = make_nb(3)
    r = save(server, p, nb)
    assert r.status_code == 201, r.text
    v1 = version_of(r)
    assert disk(server, p) == expected_bytes(nb)
    nbformat.validate(nbformat.reads(disk(server, p).decode(), 4))
    nb["cells"][1]["source"] = "y = 2"
    r = save(server, p, nb)
    assert r.status_code == 200, r.text
    v2 = version_of(r)
    assert v2 != v1
    assert disk(server, p) == expected_bytes(nb)
    lg = log(server, p)
    assert lg["branch"] == "main" and lg["path"] == p
    assert [v["id"] for v in lg["versions"]] == [v2, v1]
    assert lg["versions"][0]["parents"] == [v1] and lg["versions"][1]["parents"] == []
    assert {v["principal"] for v in lg["versions"]} == {"token"}
    # the version's exact bytes are the file's
    r = cg(server, "GET", f"version/{v2}", params={"format": "ipynb"})
    assert r.status_code == 200 and r.content == disk(server, p)
    r = cg(server, "GET", f"version/{v1}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == v1 and body["path"] == p
    assert body["content"]["cells"][1]["source"] == "x = 1\nprint(x)"
    # GET answers the version the file shows
    r = contents(server, "GET", p)
    assert r.status_code == 200 and version_of(r) == v2
    assert r.json()["content"]["cells"][1]["source"] == "y = 2"


def test_invalid_notebook_is_refused_saying_where(server):
    d = fresh_dir(server)
    nb = make_nb(2)
    nb["cells"][1]["source"] = 42
    r = save(server, f"{d}/bad.ipynb", nb)
    assert_json_error(server, r, 400)
    assert "cells[1].source" in r.json()["message"], r.json()
    assert not os.path.exists(os.path.join(server.workspace, d, "bad.ipynb"))
    nb = make_nb(1)
    del nb["metadata"]["kernelspec"]["display_name"]
    r = save(server, f"{d}/bad.ipynb", nb)
    assert_json_error(server, r, 400)
    assert "metadata.kernelspec" in r.json()["message"], r.json()


def test_untitled_copy_and_checkpoint_restore_are_versions(server):
    d = fresh_dir(server)
    r = contents(server, "POST", d, json={"type": "notebook"})
    assert r.status_code == 201, r.text
    p = r.json()["path"]
    assert len(log(server, p)["versions"]) == 1
    nb = make_nb(2)
    assert save(server, p, nb).status_code == 200
    r = contents(server, "POST", d, json={"copy_from": p})
    assert r.status_code == 201, r.text
    cp = r.json()["path"]
    assert cp != p and len(log(server, cp)["versions"]) == 1
    assert disk(server, cp) == disk(server, p)
    # the checkpoint is the first version (the empty notebook), by its id
    cps = contents(server, "GET", f"{p}/checkpoints").json()
    first = log(server, p)["versions"][-1]["id"]
    assert [c["id"] for c in cps] == [first]
    r = contents(server, "POST", f"{p}/checkpoints/{first}")
    assert r.status_code == 204, r.text
    lg = log(server, p)["versions"]
    assert len(lg) == 3 and lg[0]["message"] == "restored from a checkpoint"
    # nothing was overwritten: the edited version is still there
    r = cg(server, "GET", f"version/{lg[1]['id']}")
    assert len(r.json()["content"]["cells"]) == 2


def test_one_cell_edit_diffs_as_one_source_change(server):
    d = fresh_dir(server)
    p = f"{d}/edit.ipynb"
    nb = make_nb(5)
    v1 = version_of(save(server, p, nb))
    nb["cells"][2]["source"] = "x = 'edited'"
    v2 = version_of(save(server, p, nb))
    r = cg(server, "GET", "diff", params={"from": v1, "to": v2})
    assert r.status_code == 200, r.text
    df = r.json()
    assert df["from"] == v1 and df["to"] == v2
    assert df["source_changed"] == [{"id": "c2", "from_index": 2, "to_index": 2}]
    for k in ("added", "removed", "moved", "outputs_changed", "metadata_changed"):
        assert df[k] == [], (k, df)
    assert df["unchanged"] == 4 and df["notebook_metadata_changed"] is False


def test_diff_shapes(server):
    d = fresh_dir(server)
    p = f"{d}/shapes.ipynb"
    nb = make_nb(5)
    v1 = version_of(save(server, p, nb))
    cells = nb["cells"]
    # remove c1, move c4 to the front, new cell at the end, outputs of c3,
    # metadata of c0
    c0, _, c2, c3, c4 = cells
    c3 = dict(c3, outputs=[{"output_type": "stream", "name": "stdout", "text": "other\n"}])
    c0 = dict(c0, metadata={"tags": ["t"]})
    new = {"id": "n1", "cell_type": "markdown", "source": "# new", "metadata": {}}
    nb["cells"] = [c4, c0, c2, c3, new]
    nb["metadata"]["title"] = "changed"
    v2 = version_of(save(server, p, nb))
    df = cg(server, "GET", "diff", params={"from": v1, "to": v2}).json()
    assert df["added"] == [{"id": "n1", "index": 4}]
    assert df["removed"] == [{"id": "c1", "index": 1}]
    assert df["moved"] == [{"id": "c4", "from_index": 4, "to_index": 0}]
    assert df["outputs_changed"] == [{"id": "c3", "from_index": 3, "to_index": 3}]
    assert df["metadata_changed"] == [{"id": "c0", "from_index": 0, "to_index": 1}]
    assert df["source_changed"] == []
    assert df["unchanged"] == 1  # c2
    assert df["notebook_metadata_changed"] is True
    # the reverse diff mirrors it
    back = cg(server, "GET", "diff", params={"from": v2, "to": v1}).json()
    assert back["added"] == [{"id": "c1", "index": 1}] and back["removed"] == [{"id": "n1", "index": 4}]
    # a version against itself
    same = cg(server, "GET", "diff", params={"from": v1, "to": v1}).json()
    assert same["unchanged"] == 5 and not any(same[k] for k in (
        "added", "removed", "moved", "source_changed", "outputs_changed", "metadata_changed"))


# ---------------------------------------------------------------- the filesystem

def test_file_edited_on_disk_becomes_a_filesystem_version(server):
    d = fresh_dir(server)
    p = f"{d}/disk.ipynb"
    nb = make_nb(2)
    v1 = version_of(save(server, p, nb))
    # an editor (or git, or a kernel) writes the file behind cellgate's back
    edited = nbformat.from_dict(copy.deepcopy(nb))
    edited.cells[0].source = "from the editor"
    with open(os.path.join(server.workspace, p), "w") as f:
        nbformat.write(edited, f)
    r = contents(server, "GET", p)
    assert r.status_code == 200
    v2 = version_of(r)
    assert v2 != v1
    assert r.json()["content"]["cells"][0]["source"] == "from the editor"
    lg = log(server, p)["versions"]
    assert [v["id"] for v in lg] == [v2, v1]
    assert lg[0]["principal"] == "filesystem" and lg[0]["parents"] == [v1]
    # reading again changes nothing
    assert version_of(contents(server, "GET", p)) == v2
    assert len(log(server, p)["versions"]) == 2


def test_disk_edit_is_kept_when_a_save_overwrites_it(server):
    d = fresh_dir(server)
    p = f"{d}/race.ipynb"
    nb = make_nb(2)
    save(server, p, nb)
    edited = copy.deepcopy(nb)
    edited["cells"][0]["source"] = "on disk"
    with open(os.path.join(server.workspace, p), "wb") as f:
        f.write(expected_bytes(edited))
    nb["cells"][1]["source"] = "through the API"
    assert save(server, p, nb).status_code == 200
    lg = log(server, p)["versions"]
    assert [v["principal"] for v in lg] == ["token", "filesystem", "token"]
    kept = cg(server, "GET", f"version/{lg[1]['id']}").json()["content"]
    assert kept["cells"][0]["source"] == "on disk"


def test_a_notebook_placed_in_the_workspace_is_imported_on_read(server):
    d = fresh_dir(server)
    p = f"{d}/placed.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    raw = nbformat.writes(nb) + "\n"
    with open(os.path.join(server.workspace, p), "w") as f:
        f.write(raw)
    r = contents(server, "GET", p)
    assert r.status_code == 200
    v = version_of(r)
    lg = log(server, p)["versions"]
    assert [x["id"] for x in lg] == [v] and lg[0]["principal"] == "filesystem"
    # the file itself was not rewritten
    assert disk(server, p) == raw.encode()


# ---------------------------------------------------------------- stale parents

def test_stale_parent_is_409_with_the_current_version_and_nothing_is_lost(server):
    d = fresh_dir(server)
    p = f"{d}/cas.ipynb"
    base = make_nb(2)
    v1 = version_of(save(server, p, base))
    a = copy.deepcopy(base)
    a["cells"][0]["source"] = "writer A"
    b = copy.deepcopy(base)
    b["cells"][0]["source"] = "writer B"
    ra = save(server, p, a, body={"parent": v1})
    assert ra.status_code == 200, ra.text
    va = version_of(ra)
    rb = save(server, p, b, body={"parent": v1})
    assert_json_error(server, rb, 409)
    assert rb.json()["current_version"] == va
    # the header form, stale too
    rb2 = save(server, p, b, headers={"X-Cellgate-Parent": v1})
    assert_json_error(server, rb2, 409)
    assert rb2.json()["current_version"] == va
    # the winner is on disk and in the log; the loser wrote nothing
    assert disk(server, p) == expected_bytes(a)
    assert [v["id"] for v in log(server, p)["versions"]] == [va, v1]
    # B retries on top of the current version and wins
    rb3 = save(server, p, b, body={"parent": va})
    assert rb3.status_code == 200, rb3.text
    assert [v["id"] for v in log(server, p)["versions"]] == [version_of(rb3), va, v1]
    # plain PUT stays last-writer-wins
    assert save(server, p, a).status_code == 200


def test_bad_parent_is_400(server):
    d = fresh_dir(server)
    p = f"{d}/badparent.ipynb"
    save(server, p, make_nb(1))
    for bad in ("nope", "../../etc", "A" * 32, "0" * 31, 42):
        r = save(server, p, make_nb(1), body={"parent": bad})
        assert_json_error(server, r, 400)
    r = save(server, p, make_nb(1), headers={"X-Cellgate-Parent": "xyz"})
    assert_json_error(server, r, 400)
    # a well-formed id that is not the head is a conflict, not a crash
    r = save(server, p, make_nb(1), body={"parent": "0" * 32})
    assert_json_error(server, r, 409)


# ---------------------------------------------------------------- branches

def test_branch_create_checkout_changes_the_working_file(server):
    d = fresh_dir(server)
    p = f"{d}/br.ipynb"
    main_nb = make_nb(2)
    v1 = version_of(save(server, p, main_nb))
    r = cg(server, "POST", f"branches/{p}", json={"name": "exp"})
    assert r.status_code == 201, r.text
    assert r.json() == {"path": p, "name": "exp", "version": v1}
    r = cg(server, "POST", f"checkout/{p}", json={"branch": "exp"})
    assert r.status_code == 200, r.text
    assert r.json()["branch"] == "exp" and r.json()["version"] == v1
    br = cg(server, "GET", f"branches/{p}").json()
    assert br["checked_out"] == "exp"
    assert sorted(b["name"] for b in br["branches"]) == ["exp", "main"]
    # a save now goes to exp
    exp_nb = copy.deepcopy(main_nb)
    exp_nb["cells"].append({"id": "e1", "cell_type": "markdown", "source": "only on exp", "metadata": {}})
    ve = version_of(save(server, p, exp_nb))
    assert [v["id"] for v in log(server, p)["versions"]] == [ve, v1]
    assert log(server, p)["branch"] == "exp"
    assert [v["id"] for v in log(server, p, branch="main")["versions"]] == [v1]
    # checking main out puts main's content in the file
    r = cg(server, "POST", f"checkout/{p}", json={"branch": "main"})
    assert r.status_code == 200 and r.json()["version"] == v1
    assert disk(server, p) == expected_bytes(main_nb)
    got = contents(server, "GET", p).json()["content"]
    assert len(got["cells"]) == 2
    # and back
    cg(server, "POST", f"checkout/{p}", json={"branch": "exp"})
    assert disk(server, p) == expected_bytes(exp_nb)
    # the checked-out branch cannot be deleted
    assert_json_error(server, cg(server, "DELETE", f"branches/{p}", params={"name": "exp"}), 409)
    cg(server, "POST", f"checkout/{p}", json={"branch": "main"})
    r = cg(server, "DELETE", f"branches/{p}", params={"name": "exp"})
    assert r.status_code == 204, r.text
    assert [b["name"] for b in cg(server, "GET", f"branches/{p}").json()["branches"]] == ["main"]
    # its versions stay readable
    assert cg(server, "GET", f"version/{ve}").status_code == 200
    assert_json_error(server, cg(server, "GET", f"versions/{p}", params={"branch": "exp"}), 404)
    # a branch from an old version, by id
    r = cg(server, "POST", f"branches/{p}", json={"name": "old", "from": ve})
    assert r.status_code == 201 and r.json()["version"] == ve
    assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": "old"}), 409)


def test_checkout_keeps_an_unsaved_disk_edit(server):
    d = fresh_dir(server)
    p = f"{d}/keep.ipynb"
    nb = make_nb(1)
    save(server, p, nb)
    cg(server, "POST", f"branches/{p}", json={"name": "side"})
    edited = copy.deepcopy(nb)
    edited["cells"][0]["source"] = "edited on disk, never read"
    with open(os.path.join(server.workspace, p), "wb") as f:
        f.write(expected_bytes(edited))
    assert cg(server, "POST", f"checkout/{p}", json={"branch": "side"}).status_code == 200
    head = log(server, p, branch="main")["versions"][0]
    assert head["principal"] == "filesystem"
    assert cg(server, "GET", f"version/{head['id']}").json()["content"]["cells"][0]["source"] == \
        "edited on disk, never read"


# ---------------------------------------------------------------- hostile input

def test_hostile_ids_and_params(server):
    for bad in ("nope", "0" * 31, "0" * 33, "G" * 32, "%00" + "0" * 29, "..%2f..%2fetc"):
        assert_json_error(server, cg(server, "GET", f"version/{bad}"), (400, 404))
    assert_json_error(server, cg(server, "GET", "version/" + "0" * 32), 404)
    assert_json_error(server, cg(server, "GET", "diff"), 400)
    assert_json_error(server, cg(server, "GET", "diff", params={"from": "x", "to": "0" * 32}), 400)
    assert_json_error(server, cg(server, "GET", "diff", params={"from": "0" * 32, "to": "1" * 32}), 404)
    assert_json_error(server, cg(server, "GET", "version/" + "0" * 32, params={"format": "exe"}), (400, 404))
    d = fresh_dir(server)
    p = f"{d}/h.ipynb"
    save(server, p, make_nb(1))
    assert_json_error(server, cg(server, "GET", f"versions/{p}", params={"limit": "-1"}), 400)
    assert_json_error(server, cg(server, "GET", f"versions/{p}", params={"branch": "../main"}), 400)
    for name in ("", "-x", ".x", "a..b", "a b", "x" * 101, "ü"):
        assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": name}), 400)
    assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": 3}), 400)
    assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": "ok", "from": "no such"}), 400)
    assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": "ok", "from": "nobranch"}), 404)
    assert_json_error(server, cg(server, "POST", f"branches/{p}", data=b"{not json"), 400)
    assert_json_error(server, cg(server, "DELETE", f"branches/{p}"), 400)
    assert_json_error(server, cg(server, "DELETE", f"branches/{p}", params={"name": "nobranch"}), 404)
    assert_json_error(server, cg(server, "POST", f"checkout/{p}", json={"branch": "nobranch"}), 404)
    assert_json_error(server, cg(server, "POST", f"checkout/{p}", json={}), 400)
    # a version of another notebook is no starting point for this one's branch
    q = f"{d}/other.ipynb"
    vq = version_of(save(server, q, make_nb(1)))
    assert_json_error(server, cg(server, "POST", f"branches/{p}", json={"name": "x", "from": vq}), 400)


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../x.ipynb", "%2e%2e/x.ipynb", "/etc/passwd",
                                  ".hidden.ipynb", "a//b.ipynb", "a\\b.ipynb", "x%00.ipynb"])
def test_traversal_in_paths_is_refused(server, path):
    for method, route, kw in (("GET", "versions/", {}), ("GET", "branches/", {}),
                              ("POST", "branches/", {"json": {"name": "b"}}),
                              ("DELETE", "branches/", {"params": {"name": "b"}}),
                              ("POST", "checkout/", {"json": {"branch": "main"}})):
        try:
            r = cg(server, method, route + path, **kw)
        except requests.ConnectionError:
            continue  # lws closing the connection (a NUL) is a refusal too
        assert_json_error(server, r, (400, 403, 404))
    # nothing was written outside the workspace or beside it
    assert not os.path.exists(os.path.join(os.path.dirname(server.workspace), "x.ipynb"))


def test_unknown_notebook_is_404(server):
    assert_json_error(server, cg(server, "GET", "versions/no-such.ipynb"), 404)
    assert_json_error(server, cg(server, "GET", "branches/no-such.ipynb"), 404)
    assert_json_error(server, cg(server, "POST", "checkout/no-such.ipynb", json={"branch": "main"}), 404)
    assert not os.path.exists(os.path.join(server.workspace, "no-such.ipynb"))
    assert_json_error(server, cg(server, "GET", "versions/"), (400, 404))
