"""Round trips through the contents API and `cellgate export`.

Every notebook under examples/, and notebooks python3-nbformat builds here
(every cell and output type, attachments, unicode, unknown metadata, and
4.0-4.4 notebooks that need upgrading), saved through PUT and placed in the
workspace to be imported on read, come back

- as the working-copy file (after a PUT),
- as the version's bytes from `cellgate export` and /api/cellgate/version,
- and as the model's content from GET /api/contents,

equal to what nbformat.writes / nbformat.reads make of the same notebook
(4.0-4.4 upgraded as nbformat.v4.convert.upgrade does it; cell ids drawn
at upgrade are random on both sides, so the expected notebook takes
cellgate's), and valid against the 4.5 schema python3-nbformat
ships.
"""
import base64
import glob
import json
import os
import uuid

import nbformat
import pytest
from nbformat import v4
from nbformat.v4 import convert

from conftest import REPO
from test_cli_store import cli

pytestmark = pytest.mark.cellgate_only(reason="cellgate's store and `cellgate export`")

PNG = base64.b64encode(bytes(range(256)) * 3).decode()
SVG = '<svg xmlns="http://www.w3.org/2000/svg">\n<circle r="1"/>\n</svg>\n'
UNICODE = "ünïcödé ✓ 😀 中文 עברית e\u0301 \u2028sep\u2029 \x1c tab\t \\ \"q\" </script>"


def rich_notebook():
    nb = v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python", "version": "3.11.2"},
                   "unknown": {"nested": [1, 2.5, None, True, {"k": UNICODE}]}, "title": UNICODE}
    nb.cells = [
        v4.new_markdown_cell("# Title\n\n" + UNICODE + "\n![a](attachment:a.png)",
                             attachments={"a.png": {"image/png": PNG}}),
        v4.new_code_cell("print('hi')\n1 + 1\n", execution_count=1, metadata={"tags": ["t"], "collapsed": False},
                         outputs=[
                             v4.new_output("stream", name="stdout", text="hi\nthere\n"),
                             v4.new_output("stream", name="stderr", text="warn\r\nline\rx"),
                             v4.new_output("execute_result", execution_count=1, data={"text/plain": "2"}),
                         ]),
        v4.new_code_cell("display(x)", execution_count=None, outputs=[
            v4.new_output("display_data", data={
                "text/plain": "<x>", "text/html": "<b>x</b>\n<i>y</i>\n", "image/png": PNG,
                "image/svg+xml": SVG, "application/json": {"a": [1, {"b": UNICODE}]},
                "application/javascript": "console.log(1);\nconsole.log(2);\n",
                "application/vnd.custom+json": {"x": 1.5e-7}},
                metadata={"image/png": {"width": 10, "height": 20}}),
        ]),
        v4.new_code_cell("1/0", execution_count=3, outputs=[
            v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                          traceback=["\x1b[0;31mZeroDivisionError\x1b[0m", "Traceback " + UNICODE]),
        ]),
        v4.new_raw_cell("raw text\n" + UNICODE, metadata={"format": "text/plain"},
                        attachments={"b.txt": {"text/plain": "attached\ntext\n"}}),
        v4.new_code_cell("", execution_count=None),
        v4.new_markdown_cell(""),
    ]
    return nb


def old_notebook(minor):
    """A 4.<minor> notebook as nbformat writes one: no cell ids."""
    nb = rich_notebook()
    nb.nbformat_minor = minor
    for c in nb.cells:
        c.pop("id", None)
        if minor < 1:  # attachments came with 4.1
            c.pop("attachments", None)
    return json.dumps(nb, ensure_ascii=False, indent=2) + "\n"


def examples():
    return sorted(glob.glob(os.path.join(REPO, "examples", "*.ipynb")))


CASES = ([("example:" + os.path.basename(p), p) for p in examples()] +
         [("nbformat 4.5 rich", None)] + [(f"nbformat 4.{m} upgrade", m) for m in range(5)])


def source_text(case):
    name, arg = case
    if name.startswith("example:"):
        with open(arg, encoding="utf-8") as f:
            return f.read()
    if arg is None:
        return nbformat.writes(rich_notebook())
    return old_notebook(arg)


def expected_for(text, ids):
    """nbformat.reads + nbformat.writes of text, with cellgate's cell ids
    where the upgrade draws random ones."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    if nb.nbformat_minor < 5:  # what cellgate does on read, as nbformat's upgrade
        nb = convert.upgrade(nb, from_version=4, from_minor=nb.nbformat_minor)
    if len(ids) == len(nb.cells):
        for c, i in zip(nb.cells, ids):
            c["id"] = i
    out = nbformat.writes(nb)
    out = out if out.endswith("\n") else out + "\n"
    # the model is what nbformat.reads makes of those bytes (transient
    # fields such as metadata.orig_nbformat_minor gone)
    return nbformat.reads(out, as_version=4), out.encode()


def check_bytes(data, text, what):
    got = nbformat.reads(data.decode(), as_version=4)
    nbformat.validate(got)  # the 4.5 schema python3-nbformat ships
    assert got.nbformat == 4 and got.nbformat_minor == 5, what
    ids = [c["id"] for c in got.cells]
    nb, expected = expected_for(text, ids)
    assert data == expected, f"{what}: bytes differ from nbformat.writes"
    return nb


def check_model(content, nb, what):
    want = json.loads(json.dumps(nb))
    assert content == want, f"{what}: the model's content is not what nbformat.reads gives"


def check_version(server, vid, text, what):
    exported = cli(server, "export", vid).stdout
    check_bytes(exported, text, what + " (cellgate export)")
    r = server.request("GET", f"/api/cellgate/version/{vid}", params={"format": "ipynb"})
    assert r.status_code == 200 and r.content == exported, what
    return exported


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_put_round_trip(server, case):
    text = source_text(case)
    p = f"rt-{uuid.uuid4().hex[:8]}.ipynb"
    r = server.request("PUT", "/api/contents/" + p, json={"type": "notebook", "content": json.loads(text)})
    assert r.status_code == 201, r.text
    vid = r.headers["X-Cellgate-Version"]
    with open(os.path.join(server.workspace, p), "rb") as f:
        on_disk = f.read()
    nb = check_bytes(on_disk, text, "the working copy")
    assert check_version(server, vid, text, "the version") == on_disk
    r = server.request("GET", "/api/contents/" + p)
    assert r.status_code == 200 and r.headers["X-Cellgate-Version"] == vid
    check_model(r.json()["content"], nb, "GET after PUT")
    # saving back what GET gave is the same bytes: a fixed point
    r = server.request("PUT", "/api/contents/" + p, json={"type": "notebook", "content": r.json()["content"]})
    assert r.status_code == 200, r.text
    with open(os.path.join(server.workspace, p), "rb") as f:
        assert f.read() == on_disk


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_placed_file_round_trip(server, case):
    """A file put in the workspace by something else is imported as it is."""
    text = source_text(case)
    p = f"rt-{uuid.uuid4().hex[:8]}.ipynb"
    with open(os.path.join(server.workspace, p), "w", encoding="utf-8") as f:
        f.write(text)
    r = server.request("GET", "/api/contents/" + p)
    assert r.status_code == 200, r.text
    vid = r.headers["X-Cellgate-Version"]
    exported = check_version(server, vid, text, "the imported version")
    nb = nbformat.reads(exported.decode(), as_version=4)
    ids = [c["id"] for c in nb.cells]
    want, _ = expected_for(text, ids)
    check_model(r.json()["content"], want, "GET of a placed file")
    # the file itself is left as it was
    with open(os.path.join(server.workspace, p), encoding="utf-8") as f:
        assert f.read() == text


def test_the_cases_cover_what_they_claim():
    nb = rich_notebook()
    kinds = {c.cell_type for c in nb.cells}
    outs = {o.output_type for c in nb.cells for o in c.get("outputs", [])}
    assert kinds == {"code", "markdown", "raw"}
    assert outs == {"stream", "execute_result", "display_data", "error"}
    assert examples(), "no notebooks under examples/"
    for m in range(5):
        assert json.loads(old_notebook(m))["nbformat_minor"] == m
        assert all("id" not in c for c in json.loads(old_notebook(m))["cells"])
