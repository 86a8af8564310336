"""`cellgate log|export|import|branch|diff` on the running server's store.

The CLI opens the same sqlite file as the server (WAL lets both in), so
what the contents API saved is what the CLI lists and exports, byte for
byte as nbformat.write.
"""
import json
import os
import subprocess
import uuid

import nbformat
import pytest

from conftest import cellgate_bin
from test_versions import contents, expected_bytes, make_nb, save, version_of

pytestmark = pytest.mark.cellgate_only(reason="cellgate's own command line")


def cli(server, *args, check=True):
    p = subprocess.run([cellgate_bin(), *args, "--state", server.state], capture_output=True,
                       timeout=30)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stderr.decode())
    return p


def test_log_export_diff_of_api_saves(server):
    d = "cli-" + uuid.uuid4().hex[:8]
    contents(server, "PUT", d, json={"type": "directory"})
    p = f"{d}/n.ipynb"
    nb = make_nb(3)
    v1 = version_of(save(server, p, nb))
    nb["cells"][0]["source"] = "changed"
    v2 = version_of(save(server, p, nb))
    out = cli(server, "log", p).stdout.decode().splitlines()
    assert [line.split()[0] for line in out] == [v2, v1]
    assert "token" in out[0] and "(root)" in out[1]
    exported = cli(server, "export", v2).stdout
    with open(os.path.join(server.workspace, p), "rb") as f:
        assert exported == f.read() == expected_bytes(nb)
    assert cli(server, "export", v1).stdout == expected_bytes(make_nb(3))
    df = json.loads(cli(server, "diff", v1, v2).stdout)
    assert df["source_changed"] == [{"id": "c0", "from_index": 0, "to_index": 0}]
    assert df["unchanged"] == 2
    # branches: create at a version, list, delete
    assert cli(server, "branch", p, "side", v1).stdout.decode().split() == ["side", v1]
    lines = cli(server, "branch", p).stdout.decode().splitlines()
    assert lines == [f"* main {v2}", f"  side {v1}"]
    cli(server, "branch", "-d", p, "side")
    assert cli(server, "branch", p).stdout.decode().splitlines() == [f"* main {v2}"]


def test_import_then_read_through_the_api(server, tmp_path):
    name = f"imp-{uuid.uuid4().hex[:8]}.ipynb"
    src = tmp_path / "old.ipynb"
    old = nbformat.v4.new_notebook()
    old.nbformat_minor = 2  # 4.2: cell ids are added on import
    old.cells.append(nbformat.v4.new_code_cell("print('imported')"))
    for c in old.cells:
        c.pop("id", None)
    src.write_text(json.dumps(old))
    vid = cli(server, "import", str(src), "--path", name, "-m", "from elsewhere").stdout.decode().strip()
    assert len(vid) == 32
    exported = cli(server, "export", vid).stdout
    back = nbformat.reads(exported.decode(), 4)
    nbformat.validate(back)
    assert back.nbformat_minor == 5 and back.cells[0].source == "print('imported')"
    assert exported == expected_bytes(back)
    assert cli(server, "log", name).stdout.decode().split()[0] == vid


def test_cli_errors(server):
    for args in (("export", "nope"), ("export", "0" * 32), ("log", "no-such.ipynb"),
                 ("diff", "0" * 32, "1" * 32), ("import", "/no/such/file.ipynb"),
                 ("branch", "x.ipynb", "a..b", "0" * 32)):
        p = cli(server, *args, check=False)
        assert p.returncode == 1 and p.stderr.startswith(b"cellgate "), (args, p.stderr)
    assert cli(server, "log", check=False).returncode == 2
    assert cli(server, "export", "--bogus", check=False).returncode == 2
