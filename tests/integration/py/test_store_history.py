"""A notebook's history through renames, deletes and checkpoints, and
concurrent saves from stale parents: the store behind the contents API.

Renames move a notebook's branches (and its checkout record and checkpoint)
to the new path, so its log continues there; deletes keep the branches
under deleted/<time>-<random>/<name> and every version readable by id; a
notebook's checkpoint is one of its versions.
"""
import copy
import os
import threading
import uuid

import nbformat
import pytest

from test_api import assert_json_error
from test_cli_store import cli
from test_versions import cg, contents, disk, expected_bytes, fresh_dir, log, make_nb, save, version_of

pytestmark = pytest.mark.cellgate_only(reason="cellgate's own store and /api/cellgate/")


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "server stopped answering:\n" + server.log_tail()


def branches(server, path):
    r = cg(server, "GET", "branches/" + path)
    assert r.status_code == 200, r.text
    return r.json()


def rename(server, a, b):
    r = contents(server, "PATCH", a, json={"path": b})
    assert r.status_code == 200, r.text
    return r


def two_versions(server, p):
    nb = make_nb(3)
    v1 = version_of(save(server, p, nb))
    nb["cells"][0]["source"] = "second"
    v2 = version_of(save(server, p, nb))
    return nb, v1, v2


# ---------------------------------------------------------------- renames

def test_rename_carries_the_history(server):
    d = fresh_dir(server)
    a, b = f"{d}/a.ipynb", f"{d}/b.ipynb"
    nb, v1, v2 = two_versions(server, a)
    r = cg(server, "POST", "branches/" + a, json={"name": "side", "from": v1})
    assert r.status_code == 201, r.text
    rename(server, a, b)
    # the log continues under the new path, through the API and the CLI
    assert [v["id"] for v in log(server, b)["versions"]] == [v2, v1]
    assert cli(server, "log", b).stdout.decode().split("\n")[0].split()[0] == v2
    assert {x["name"]: x["version"] for x in branches(server, b)["branches"]} == {"main": v2, "side": v1}
    assert_json_error(server, cg(server, "GET", "versions/" + a), 404)
    # reading the renamed file is no new version: it is the version it was
    r = contents(server, "GET", b)
    assert r.status_code == 200 and version_of(r) == v2
    assert len(log(server, b)["versions"]) == 2
    # the next save is a child of the last one, and compare-and-swap works there
    nb["cells"][1]["source"] = "third"
    r = save(server, b, nb, body={"parent": v2})
    assert r.status_code == 200, r.text
    assert log(server, b)["versions"][0]["parents"] == [v2]
    # the old versions still say where they were saved
    assert cg(server, "GET", f"version/{v1}").json()["path"] == a


def test_directory_rename_carries_the_notebooks_inside(server):
    d = fresh_dir(server)
    contents(server, "PUT", f"{d}/sub", json={"type": "directory"})
    _, v1, v2 = two_versions(server, f"{d}/sub/n.ipynb")
    # a sibling that merely shares the prefix stays where it is
    contents(server, "PUT", f"{d}/sub2", json={"type": "directory"})
    other = version_of(save(server, f"{d}/sub2/n.ipynb", make_nb(1)))
    rename(server, f"{d}/sub", f"{d}/moved")
    assert [v["id"] for v in log(server, f"{d}/moved/n.ipynb")["versions"]] == [v2, v1]
    assert [v["id"] for v in log(server, f"{d}/sub2/n.ipynb")["versions"]] == [other]
    assert version_of(contents(server, "GET", f"{d}/moved/n.ipynb")) == v2


def test_rename_over_a_stale_record_keeps_both_histories(server):
    d = fresh_dir(server)
    a, b = f"{d}/a.ipynb", f"{d}/b.ipynb"
    old = version_of(save(server, b, make_nb(1)))
    os.remove(os.path.join(server.workspace, b))  # gone outside cellgate
    _, v1, v2 = two_versions(server, a)
    rename(server, a, b)
    assert [v["id"] for v in log(server, b)["versions"]] == [v2, v1]
    kept = [x for x in branches(server, b)["branches"] if x["name"].startswith("deleted/")]
    assert [x["version"] for x in kept] == [old]


# ---------------------------------------------------------------- deletes

def test_delete_keeps_the_versions(server):
    d = fresh_dir(server)
    p = f"{d}/gone.ipynb"
    nb, v1, v2 = two_versions(server, p)
    # an edit on disk not yet seen is kept too, as the last version
    edited = copy.deepcopy(nb)
    edited["cells"][2]["source"] = "edited on disk before the delete"
    with open(os.path.join(server.workspace, p), "wb") as f:
        f.write(expected_bytes(edited))
    assert contents(server, "DELETE", p).status_code == 204
    assert not os.path.exists(os.path.join(server.workspace, p))
    for v in (v1, v2):
        r = cg(server, "GET", f"version/{v}")
        assert r.status_code == 200 and r.json()["id"] == v
    kept = branches(server, p)["branches"]
    assert len(kept) == 1 and kept[0]["name"].startswith("deleted/") and kept[0]["name"].endswith("/main")
    # the log of the path says where the history went
    r = cg(server, "GET", "versions/" + p)
    assert_json_error(server, r, 404)
    assert kept[0]["name"] in r.json()["message"]
    lg = log(server, p, branch=kept[0]["name"])["versions"]
    assert [v["id"] for v in lg][1:] == [v2, v1] and lg[0]["principal"] == "filesystem"
    r = cg(server, "GET", f"version/{lg[0]['id']}", params={"format": "ipynb"})
    assert r.content == expected_bytes(edited)
    # a new notebook at the same path starts a history of its own
    v3 = version_of(save(server, p, make_nb(1)))
    lg = log(server, p)["versions"]
    assert [v["id"] for v in lg] == [v3] and lg[0]["parents"] == []
    assert contents(server, "GET", f"{p}/checkpoints").json()[0]["id"] == v3


def test_directory_delete_keeps_the_versions_inside(server):
    d = fresh_dir(server)
    contents(server, "PUT", f"{d}/sub", json={"type": "directory"})
    p = f"{d}/sub/n.ipynb"
    _, v1, v2 = two_versions(server, p)
    assert contents(server, "DELETE", p).status_code == 204
    assert contents(server, "DELETE", f"{d}/sub").status_code == 204
    assert cg(server, "GET", f"version/{v2}").status_code == 200
    assert [x["version"] for x in branches(server, p)["branches"]] == [v2]


# ---------------------------------------------------------------- checkpoints

def test_checkpoints_are_versions(server):
    d = fresh_dir(server)
    p = f"{d}/cp.ipynb"
    nb, v1, v2 = two_versions(server, p)
    # Jupyter keeps a checkpoint of every saved notebook: here its first version
    assert [c["id"] for c in contents(server, "GET", f"{p}/checkpoints").json()] == [v1]
    r = contents(server, "POST", f"{p}/checkpoints")
    assert r.status_code == 201, r.text
    cp = r.json()
    assert cp["id"] == v2 and set(cp) == {"id", "last_modified"}
    assert [c["id"] for c in contents(server, "GET", f"{p}/checkpoints").json()] == [v2]
    # a checkpoint of a file edited on disk is the filesystem version of it
    edited = copy.deepcopy(nb)
    edited["cells"][0]["source"] = "on disk"
    with open(os.path.join(server.workspace, p), "wb") as f:
        f.write(expected_bytes(edited))
    cp = contents(server, "POST", f"{p}/checkpoints").json()
    lg = log(server, p)["versions"]
    assert cp["id"] == lg[0]["id"] and lg[0]["principal"] == "filesystem"
    v_disk = cp["id"]
    nb["cells"][1]["source"] = "after the checkpoint"
    v4 = version_of(save(server, p, nb))
    # only the checkpoint's id restores; another version's id is not a checkpoint
    assert_json_error(server, contents(server, "POST", f"{p}/checkpoints/{v1}"), 404)
    assert_json_error(server, contents(server, "POST", f"{p}/checkpoints/checkpoint"), 404)
    r = contents(server, "POST", f"{p}/checkpoints/{v_disk}")
    assert r.status_code == 204, r.text
    assert disk(server, p) == expected_bytes(edited)
    lg = log(server, p)["versions"]
    assert lg[0]["message"] == "restored from a checkpoint" and lg[0]["parents"] == [v4]
    assert cg(server, "GET", f"version/{v4}").status_code == 200  # nothing overwritten
    # the checkpoint follows a rename
    q = f"{d}/cp2.ipynb"
    rename(server, p, q)
    assert [c["id"] for c in contents(server, "GET", f"{q}/checkpoints").json()] == [v_disk]
    assert contents(server, "DELETE", f"{q}/checkpoints/{v_disk}").status_code == 204
    assert contents(server, "GET", f"{q}/checkpoints").json() == []
    assert cg(server, "GET", f"version/{v_disk}").status_code == 200
    # the pointer is not a branch anyone sees or can make
    assert all(not x["name"].startswith(".") for x in branches(server, q)["branches"])
    r = cg(server, "POST", "branches/" + q, json={"name": ".checkpoint", "from": v1})
    assert_json_error(server, r, 400)


def test_checkpoint_of_a_broken_ipynb_keeps_its_bytes(server):
    d = fresh_dir(server)
    p = f"{d}/broken.ipynb"
    path = os.path.join(server.workspace, p)
    with open(path, "w") as f:
        f.write("{not a notebook")
    r = contents(server, "POST", f"{p}/checkpoints")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "checkpoint"
    with open(path, "w") as f:
        f.write("changed")
    assert contents(server, "POST", f"{p}/checkpoints/checkpoint").status_code == 204
    with open(path) as f:
        assert f.read() == "{not a notebook"


# ---------------------------------------------------------------- concurrent saves

def test_concurrent_saves_from_one_stale_parent_one_wins(server):
    d = fresh_dir(server)
    p = f"{d}/race.ipynb"
    base = make_nb(20)
    v0 = version_of(save(server, p, base))
    n = 8
    results = [None] * n
    barrier = threading.Barrier(n)

    def writer(i):
        mine = copy.deepcopy(base)
        mine["cells"][0]["source"] = f"writer {i}"
        barrier.wait()
        results[i] = save(server, p, mine, body={"parent": v0}, timeout=120)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * (n - 1), [(r.status_code, r.text[:200]) for r in results]
    win = next(i for i, r in enumerate(results) if r.status_code == 200)
    vw = version_of(results[win])
    for r in results:
        if r.status_code == 409:
            assert r.json()["current_version"] == vw and set(r.json()) >= {"message", "reason"}
    assert [v["id"] for v in log(server, p)["versions"]] == [vw, v0]
    got = nbformat.reads(disk(server, p).decode(), 4)
    assert got.cells[0].source == f"writer {win}"


# ---------------------------------------------------------------- the stat cache

def test_same_size_edit_with_the_old_mtime_is_still_seen(server):
    """Reads skip re-hashing a file whose lstat is as last hashed; an edit
    in place that keeps the size and puts the mtime back still moves the
    ctime, and is imported."""
    d = fresh_dir(server)
    p = f"{d}/same.ipynb"
    nb = make_nb(3)
    v1 = version_of(save(server, p, nb))
    assert version_of(contents(server, "GET", p)) == v1  # hashed and remembered
    path = os.path.join(server.workspace, p)
    st = os.stat(path)
    data = open(path, "rb").read()
    edited = data.replace(b"x = 1", b"x = 9")
    assert edited != data and len(edited) == len(data)
    with open(path, "r+b") as f:  # in place: same inode
        f.write(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_ino == st.st_ino and os.stat(path).st_mtime_ns == st.st_mtime_ns
    r = contents(server, "GET", p)
    assert version_of(r) != v1
    assert r.json()["content"]["cells"][1]["source"] == "x = 9\nprint(x)"
    assert log(server, p)["versions"][0]["principal"] == "filesystem"
