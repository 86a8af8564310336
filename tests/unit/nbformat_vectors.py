#!/usr/bin/python3
"""Reference notebooks for tests/unit/test_nbformat.c, from python3-nbformat itself.

  nbformat_vectors.py make         print one JSON line per case:
      {"name", "input": .ipynb text, "expect": what nbformat.write writes,
       "fix_ids": bool}            for notebooks cellgate must read and write, or
      {"name", "input", "where"}   for notebooks nbformat refuses; "where" is
                                   the path cellgate's message must start with
  nbformat_vectors.py check FILE   FILE holds JSON lines {"name", "text"} that
                                   cellgate wrote: each must validate against the
                                   4.5 schema and be a fixed point of read+write

When fix_ids is true the notebook's cell ids are random (an upgrade from
4.0-4.4, or a 4.5 notebook with missing or repeated ids): the expected text
then has ids "cell-0", "cell-1", ... and the C test sets the same ids before
writing, after checking its own generated ids.
"""
import copy
import io
import json
import logging
import math
import random
import struct
import sys
import warnings

import nbformat
from nbformat.v4 import convert, nbbase

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

UNICODE = ("h\u00e9llo w\u00f6rld \u2603 \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627 "
           "e\u0301 \U0001f600\U0001f469\u200d\U0001f52c \ufeff\uffff \U0010ffff")
WEIRD_LINES = ("a\r\nb\rc\nd\x0be\x0cf\x1cg\x1dh\x1ei\x85j\u2028k\u2029l\n\n"
               "tab\there \"quoted\" back\\slash ctrl\x01\x1f\x7f nul\x00 end")
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
       "60e6kgAAAABJRU5ErkJggg==")


def floats():
    rnd = random.Random(4242)
    out = [0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3, 100.0, 1e-4, 9.999999999999999e-5,
           1e-5, 1e15, 1e16, 1e17, 1e22, 1e23, 123456789012345680.0, 1234567890123456.0,
           -0.0, 0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.5, -2.5e-8,
           3.141592653589793, 2.718281828459045, 1e100, 1.0e-100, 4.35, 0.000123456]
    out += [math.ldexp(1.0, k) for k in range(-1074, 1024, 7)]
    out += [math.ldexp(1.0, k) * (1 + 2 ** -52) for k in range(-1000, 1000, 37)]
    while len(out) < 3000:
        (d,) = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))
        if math.isfinite(d):
            out.append(d)
    out += [rnd.uniform(-1000, 1000) for _ in range(500)]
    out += [round(rnd.uniform(0, 100), rnd.randint(0, 6)) for _ in range(500)]
    return out


def full_notebook():
    nb = nbbase.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.2", "file_extension": ".py",
                          "mimetype": "text/x-python", "pygments_lexer": "ipython3",
                          "codemirror_mode": {"name": "ipython", "version": 3},
                          "nbconvert_exporter": "python"},
        "title": "All the things " + UNICODE,
        "authors": [{"name": "Ada"}, {"name": "\u00c9mile", "affiliation": None}],
        "signature": "sha256:transient",
        "orig_nbformat": 3,
        "custom": {"z": 1, "a": [True, False, None, {}, [], ""], "\u00e9": 2, "Z": 3,
                   "\U0001f600": "emoji key", "\uffff": "bmp max", "a b": {"nested": {"deep": [1.5]}},
                   "big": 2 ** 62, "neg": -17, "float": 1e-7, "exp": 6.02214076e23},
    })
    nb.cells = [
        nbbase.new_markdown_cell("# Title\n\nSome *markdown* with " + UNICODE + "\n" + WEIRD_LINES,
                                 metadata={"tags": ["intro", "\u00e9t\u00e9"], "name": "intro",
                                           "jupyter": {"source_hidden": True}},
                                 attachments={"image.png": {"image/png": PNG},
                                              "notes.txt": {"text/plain": "line 1\nline 2\n"}}),
        nbbase.new_code_cell(
            "import numpy as np\nprint('hi')\n\n",
            execution_count=3,
            metadata={"collapsed": False, "scrolled": "auto", "trusted": True,
                      "execution": {"iopub.execute_input": "2024-01-01T00:00:00.000001Z",
                                    "shell.execute_reply": "2024-01-01T00:00:01.5Z"},
                      "jupyter": {"outputs_hidden": False}, "unknown_tool": {"k": [1, 2.25]}},
            outputs=[
                nbbase.new_output("stream", name="stdout", text="hi\nthere\n" + UNICODE),
                nbbase.new_output("stream", name="stderr", text="warning: \x1b[31mred\x1b[0m\r\n"),
                nbbase.new_output("execute_result", execution_count=3, data={
                    "text/plain": "array([1, 2, 3])\n",
                    "text/html": "<b>bold</b>\n<i>it</i>",
                    "text/markdown": "",
                    "application/json": {"a": [1, 2.5, "x\ny"], "b": None, "c": {"d": "e"}},
                    "application/vnd.custom+json": {"lines": "one\ntwo\n"},
                    "image/png": PNG,
                }, metadata={"image/png": {"width": 10, "height": 20.5}}),
                nbbase.new_output("display_data", data={
                    "image/svg+xml": "<svg>\n<circle r=\"1\"/>\n</svg>\n",
                    "application/javascript": "console.log(1);\nconsole.log(2);",
                    "application/pdf": "JVBERi0xLjQK\nbase64\n",
                    "text/latex": "$$x^2$$",
                }),
                nbbase.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                  traceback=["\x1b[0;31m----\x1b[0m", "Traceback \u00e9\n", ""]),
            ]),
        nbbase.new_code_cell("", execution_count=None),
        nbbase.new_code_cell(WEIRD_LINES, execution_count=0, outputs=[
            nbbase.new_output("stream", name="stdout", text=""),
            nbbase.new_output("execute_result", execution_count=None, data={}),
        ]),
        nbbase.new_raw_cell("raw \\LaTeX\n\\end", metadata={"format": "text/latex", "raw_mimetype": "x"}),
        nbbase.new_markdown_cell("single line no newline"),
        nbbase.new_markdown_cell("\n"),
        nbbase.new_markdown_cell("trailing\r"),
    ]
    for i, c in enumerate(nb.cells):
        c.id = "c%d-%s" % (i, "_-Aa9")
    return nb


def float_notebook():
    nb = nbbase.new_notebook(metadata={"floats": floats(), "ints": [0, -1, 2 ** 63 - 1, -(2 ** 63)]})
    nb.cells = [nbbase.new_code_cell("x = 1.0", id="f1", execution_count=1, outputs=[
        nbbase.new_output("execute_result", execution_count=1,
                          data={"application/json": {"x": floats()[:50]}, "text/plain": "1.0"})])]
    return nb


def write(nb):
    f = io.StringIO()
    nbformat.write(nb, f)
    return f.getvalue()


def old_version(nb, minor):
    """The notebook as an older 4.x writer would have written it: no ids."""
    d = json.loads(json.dumps(nb))
    d["nbformat_minor"] = minor
    for c in d["cells"]:
        c.pop("id", None)
        if minor < 1:
            c.pop("attachments", None)
    return d


def fixed_ids(nb):
    for i, c in enumerate(nb.cells):
        c.id = "cell-%d" % i
    return nb


def emit(name, input_text, expect, fix_ids=False):
    print(json.dumps({"name": name, "input": input_text, "expect": expect, "fix_ids": fix_ids}))


def make():
    full = full_notebook()
    s = nbformat.writes(full)
    emit("full", s, write(nbformat.reads(s, as_version=4)))
    # The same notebook serialized differently: compact, unsplit, unsorted.
    emit("full-compact", json.dumps(full), write(nbformat.reads(s, as_version=4)))
    emit("full-ascii", json.dumps(full, ensure_ascii=True, indent=4), write(nbformat.reads(s, as_version=4)))
    fl = float_notebook()
    emit("floats", json.dumps(fl), write(fl))
    emit("empty", json.dumps(nbbase.new_notebook()), write(nbbase.new_notebook()))

    # Lists where strings are expected are joined on read, then split again only for text.
    d = json.loads(json.dumps(full))
    d["cells"][1]["outputs"][2]["data"]["image/png"] = [PNG[:20] + "\n", PNG[20:]]
    d["cells"][1]["outputs"][4]["traceback"] = ["a\n", "b"]
    d["cells"][0]["source"] = ["# Ti", "tle\n", "more"]
    emit("lists-joined", json.dumps(d), write(nbformat.reads(json.dumps(d), as_version=4)))

    # 4.0-4.4: cellgate upgrades to 4.5 with new random ids, like convert.upgrade.
    for minor in range(5):
        d = old_version(full, minor)
        text = json.dumps(d, indent=1, sort_keys=True)
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
        nb = convert.upgrade(nb, from_version=4, from_minor=minor)
        emit("v4.%d" % minor, text, write(fixed_ids(nb)), fix_ids=True)
    d = old_version(full, 4)
    for c in d["cells"]:
        c["id"] = "was-here"
    text = json.dumps(d)
    emit("v4.4-with-ids", text, write(fixed_ids(convert.upgrade(
        nbformat.reads(text, as_version=nbformat.NO_CONVERT), from_version=4, from_minor=4))), fix_ids=True)

    # 4.5 with missing and repeated ids: validate() repairs them.
    d = json.loads(json.dumps(full))
    del d["cells"][0]["id"]
    d["cells"][2]["id"] = d["cells"][1]["id"]
    text = json.dumps(d)
    emit("v4.5-repaired-ids", text, write(fixed_ids(nbformat.reads(text, as_version=4))), fix_ids=True)

    for name, where, mutate in invalid_cases():
        d = json.loads(json.dumps(full))
        mutate(d)
        text = json.dumps(d)
        try:
            nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
            nbformat.validate(nb)
        except Exception:
            print(json.dumps({"name": name, "input": text, "where": where}))
        else:
            raise SystemExit("nbformat accepts invalid case %s" % name)


def invalid_cases():
    def setp(path, value):
        def f(d):
            o = d
            for k in path[:-1]:
                o = o[k]
            o[path[-1]] = value
        return f

    def delp(path):
        def f(d):
            o = d
            for k in path[:-1]:
                o = o[k]
            del o[path[-1]]
        return f
    return [
        ("source-int", "cells[3].source", setp(["cells", 3, "source"], 7)),
        ("source-list-int", "cells[3].source", setp(["cells", 3, "source"], ["a", 1])),
        ("no-metadata", "cells[2]", delp(["cells", 2, "metadata"])),
        ("bad-cell-type", "cells[1]", setp(["cells", 1, "cell_type"], "heading")),
        ("extra-cell-field", "cells[4]", setp(["cells", 4, "outputs"], [])),
        ("bad-id", "cells[0].id", setp(["cells", 0, "id"], "has space")),
        ("long-id", "cells[0].id", setp(["cells", 0, "id"], "x" * 65)),
        ("exec-count-neg", "cells[1].execution_count", setp(["cells", 1, "execution_count"], -1)),
        ("exec-count-float", "cells[1].execution_count", setp(["cells", 1, "execution_count"], 1.0)),
        ("stream-no-name", "cells[1].outputs[0]", delp(["cells", 1, "outputs", 0, "name"])),
        ("output-type", "cells[1].outputs[1]", setp(["cells", 1, "outputs", 1, "output_type"], "pyout")),
        ("mime-int", "cells[1].outputs[2].data[\"text/plain\"]",
         setp(["cells", 1, "outputs", 2, "data", "text/plain"], 5)),
        ("traceback-int", "cells[1].outputs[4].traceback[1]",
         setp(["cells", 1, "outputs", 4, "traceback", 1], 5)),
        ("tags-dup", "cells[0].metadata.tags[1]", setp(["cells", 0, "metadata", "tags"], ["a", "a"])),
        ("tags-comma", "cells[0].metadata.tags[0]", setp(["cells", 0, "metadata", "tags"], ["a,b"])),
        ("scrolled", "cells[1].metadata.scrolled", setp(["cells", 1, "metadata", "scrolled"], "yes")),
        ("exec-meta", "cells[1].metadata.execution[\"shell.execute_reply\"]",
         setp(["cells", 1, "metadata", "execution", "shell.execute_reply"], 1)),
        ("attachment", "cells[0].attachments[\"image.png\"][\"image/png\"]",
         setp(["cells", 0, "attachments", "image.png", "image/png"], {"x": 1})),
        ("kernelspec", "metadata.kernelspec", delp(["metadata", "kernelspec", "display_name"])),
        ("codemirror", "metadata.language_info.codemirror_mode",
         setp(["metadata", "language_info", "codemirror_mode"], 3)),
        ("top-extra", "notebook", setp(["worksheets"], [])),
        ("nbformat-3", "nbformat", setp(["nbformat"], 3)),
        ("no-cells", "notebook", delp(["cells"])),
        ("cells-object", "cells", setp(["cells"], {})),
    ]


def check(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            text = case["text"]
            nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
            nbformat.validate(nb)
            if nb.nbformat_minor != 5:
                raise SystemExit("%s: nbformat_minor %s" % (case["name"], nb.nbformat_minor))
            if write(nb) != text:
                raise SystemExit("%s: not a fixed point of nbformat read+write" % case["name"])
            n += 1
    print("ok", n)


if __name__ == "__main__":
    if sys.argv[1:2] == ["make"]:
        make()
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 3:
        check(sys.argv[2])
    else:
        raise SystemExit(__doc__)
