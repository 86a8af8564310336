#!/usr/bin/python3
"""Executes the example notebooks through a cellgate server, as JupyterLab
would (a session, execute_requests with metadata.cellId, outputs kept from
IOPub, a save through the contents API), replays each saved version, and
checks the verdicts against what the notebook's metadata.cellgate says:

    "run_order": [cell ids]   the order its cells are executed in (default:
                              top to bottom; repeats and out-of-order allowed)
    "expect": {"verdict": "reproduced" | "not_reproduced",
               "differs": [cell ids]}   (default: reproduced)

Run after `make` (the native kernels' notebooks need their kernelspecs):

    /usr/bin/python3 examples/replay_examples.py [--write] [NAME.ipynb ...]

--write saves each executed notebook back into examples/ with its outputs.
Exits non-zero when a verdict is not the expected one.
"""
import argparse
import copy
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "py"))

from conftest import Server  # noqa: E402
from nbclient_ws import Notebook  # noqa: E402

NATIVE = {"pari", "gap"}


def fresh(nb):
    """The notebook without outputs, as if never run."""
    nb = copy.deepcopy(nb)
    for c in nb["cells"]:
        if isinstance(c["source"], list):  # the file's split lines
            c["source"] = "".join(c["source"])
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
    return nb


def replay(server, path, timeout=600):
    r = server.request("POST", "/api/cellgate/replays", json={"path": path})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = server.request("GET", f"/api/cellgate/replays/{rid}").json()
        if st["state"] != "running":
            return st
        time.sleep(0.3)
    raise TimeoutError(path)


def run_example(server, name, write=False):
    """Returns (ok, lines of explanation)."""
    with open(os.path.join(HERE, name)) as f:
        nb = fresh(json.load(f))
    meta = nb["metadata"].get("cellgate", {})
    kernel = nb["metadata"]["kernelspec"]["name"]
    if kernel in NATIVE and not server.install_native(kernel):
        return None, [f"{name}: skipped, the {kernel} kernel is not built (make)"]
    order = meta.get("run_order") or [c["id"] for c in nb["cells"] if c["cell_type"] == "code"]
    book = Notebook(server, name, nb=nb)
    try:
        for cid in order:
            book.run(cid, timeout=300, stop_on_error=False)
        v = book.save()
        st = replay(server, name)
    finally:
        book.close()
    verdicts = {c["cell_id"]: c["verdict"] for c in st["report"]["cells"]}
    expect = meta.get("expect", {"verdict": "reproduced"})
    want_differs = set(expect.get("differs", []))
    ok = st["verdict"] == expect.get("verdict", "reproduced") and all(
        (v_ == "differs") == (cid in want_differs) for cid, v_ in verdicts.items())
    lines = [f"{name} ({kernel}, version {v}): {st['verdict']}" + ("" if ok else "  UNEXPECTED")]
    lines += [f"    {cid:10} {v_}" for cid, v_ in verdicts.items()]
    if write:
        r = server.request("GET", f"/api/cellgate/version/{v}", params={"format": "ipynb"})
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(r.content)
    return ok, lines


def examples():
    return sorted(n for n in os.listdir(HERE) if n.endswith(".ipynb"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    server = Server(False)
    server.start()
    bad = 0
    try:
        for name in a.names or examples():
            ok, lines = run_example(server, name, a.write)
            print("\n".join(lines), flush=True)
            bad += ok is False
    finally:
        server.shutdown_kernels()
        server.stop()
        server.cleanup()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
