"""How the store grows with saves through the HTTP API, read from the
server's sqlite file (a second reader beside the server, as WAL allows).

A 200-cell notebook saved again with one cell's source edited adds two
objects, that cell and the new tree, and about their size to the file, not
the notebook's; saved unchanged it adds a version row and no object.
"""
import json
import os
import sqlite3
import uuid

import pytest

from test_versions import make_nb, save, version_of

pytestmark = pytest.mark.cellgate_only(reason="cellgate's store")


def measure(server):
    con = sqlite3.connect(os.path.join(server.state, "store.sqlite"), timeout=30)
    try:
        objects, data = con.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM objects").fetchone()
        versions = con.execute("SELECT count(*) FROM versions").fetchone()[0]
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        return {"objects": objects, "data": data, "versions": versions, "bytes": pages * page_size}
    finally:
        con.close()


def new_objects(server, before_rowid):
    con = sqlite3.connect(os.path.join(server.state, "store.sqlite"), timeout=30)
    try:
        return con.execute("SELECT kind, length(data) FROM objects WHERE rowid > ? ORDER BY kind",
                           (before_rowid,)).fetchall()
    finally:
        con.close()


def max_rowid(server):
    con = sqlite3.connect(os.path.join(server.state, "store.sqlite"), timeout=30)
    try:
        return con.execute("SELECT coalesce(max(rowid), 0) FROM objects").fetchone()[0]
    finally:
        con.close()


def big_nb():
    nb = make_nb(200, prefix="g")
    for i, c in enumerate(nb["cells"]):
        c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"{i} " + "o" * 2000 + "\n"},
                        {"output_type": "execute_result", "execution_count": i + 1, "metadata": {},
                         "data": {"text/plain": f"result {i} " + "r" * 1000}}]
    return nb


def test_one_cell_edit_grows_the_store_by_the_cell_and_the_tree(server):
    p = f"growth-{uuid.uuid4().hex[:8]}.ipynb"
    nb = big_nb()
    notebook_bytes = len(json.dumps(nb))
    assert save(server, p, nb).status_code == 201
    m0 = measure(server)
    # one cell's source edited
    rowid = max_rowid(server)
    nb["cells"][100]["source"] = "edited = True"
    v = version_of(save(server, p, nb))
    m1 = measure(server)
    added = new_objects(server, rowid)
    assert [k for k, _ in added] == ["cell", "tree"], added
    assert m1["objects"] - m0["objects"] == 2 and m1["versions"] - m0["versions"] == 1
    assert m1["data"] - m0["data"] == sum(n for _, n in added)
    grew = m1["bytes"] - m0["bytes"]
    # the tree names 200 cells (~14 KB); the notebook is ~650 KB
    assert grew < 3 * sum(n for _, n in added) + 4 * 4096 and grew < notebook_bytes / 10, (grew, added, notebook_bytes)
    # saved unchanged: a version row and nothing else
    r = save(server, p, nb)
    assert r.status_code == 200 and version_of(r) != v
    m2 = measure(server)
    assert m2["objects"] == m1["objects"] and m2["data"] == m1["data"]
    assert m2["versions"] == m1["versions"] + 1
    assert m2["bytes"] - m1["bytes"] <= 2 * 4096, (m1, m2)
    print(f"\ngrowth: notebook {notebook_bytes} B; one-cell edit +{m1['data'] - m0['data']} B of objects "
          f"({added}), file +{grew} B; unchanged save +0 objects, file +{m2['bytes'] - m1['bytes']} B")
