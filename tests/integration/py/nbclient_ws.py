"""A small notebook front end for the provenance and replay tests.

It does what JupyterLab does with a notebook, through the same interfaces:
a session (POST /api/sessions) binds the notebook's path to a kernel,
execute_requests go over the kernel WebSocket with the cell's id as
metadata.cellId, IOPub output becomes nbformat outputs the way JupyterLab's
output area keeps them (consecutive stream text merged, clear_output,
update_display_data), execute_input sets the cell's execution_count, and
the notebook is saved with PUT /api/contents.
"""
import time
import uuid


def to_outputs(outputs, msg):
    """Adds one IOPub message to a list of nbformat outputs, as JupyterLab does."""
    mt, c = msg["header"]["msg_type"], msg["content"]
    if mt == "stream":
        if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == c["name"]:
            outputs[-1]["text"] += c["text"]
        else:
            outputs.append({"output_type": "stream", "name": c["name"], "text": c["text"]})
    elif mt == "display_data":
        outputs.append({"output_type": "display_data", "data": c["data"], "metadata": c.get("metadata", {})})
    elif mt == "execute_result":
        outputs.append({"output_type": "execute_result", "data": c["data"],
                        "metadata": c.get("metadata", {}), "execution_count": c["execution_count"]})
    elif mt == "error":
        outputs.append({"output_type": "error", "ename": c["ename"], "evalue": c["evalue"],
                        "traceback": c["traceback"]})
    elif mt == "clear_output":
        outputs.clear()


class Notebook:
    def __init__(self, server, path, cells=None, kernel="python3", nb=None):
        """cells: list of (cell_id, source); or nb: a whole notebook (its kernelspec is used)."""
        if nb is not None:
            kernel = nb["metadata"]["kernelspec"]["name"]
        self.server, self.path, self.kernel_name = server, path, kernel
        self.nb = nb if nb is not None else {
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
            "cells": [{"id": cid, "cell_type": "code", "source": src, "metadata": {},
                       "execution_count": None, "outputs": []} for cid, src in cells]}
        r = server.request("POST", "/api/sessions",
                           json={"path": path, "name": path, "type": "notebook", "kernel": {"name": kernel}})
        assert r.status_code == 201, r.text
        self.session = r.json()
        self.kid = self.session["kernel"]["id"]
        server._kernels.add(self.kid)
        server.wait_kernel_ready(self.kid, timeout=90)
        self.ws = server.ws_connect(self.kid)

    def cell(self, cid):
        return next(c for c in self.nb["cells"] if c["id"] == cid)

    def run(self, cid, timeout=60, stop_on_error=True):
        cell = self.cell(cid)
        msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "itest",
                          "session": self.ws.session, "date": "", "version": "5.3"},
               "parent_header": {}, "metadata": {"cellId": cid, "deletedCells": [], "recordTiming": False},
               "content": {"code": cell["source"], "silent": False, "store_history": True,
                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": stop_on_error},
               "channel": "shell", "buffers": []}
        import json
        self.ws.send_raw(json.dumps(msg))
        mid = msg["header"]["msg_id"]
        outputs, reply, idle = [], None, False
        end = time.monotonic() + timeout
        while reply is None or not idle:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"cell {cid} did not finish")
            m = self.ws.recv(timeout=left)
            if m is None or m.get("parent_header", {}).get("msg_id") != mid:
                continue
            mt = m["header"]["msg_type"]
            if m.get("channel") == "shell" and mt == "execute_reply":
                reply = m["content"]
            elif mt == "status":
                idle = idle or m["content"]["execution_state"] == "idle"
            elif mt == "execute_input":
                cell["execution_count"] = m["content"]["execution_count"]
            else:
                to_outputs(outputs, m)
        cell["outputs"] = outputs
        return reply

    def save(self):
        r = self.server.request("PUT", "/api/contents/" + self.path,
                                json={"type": "notebook", "content": self.nb})
        assert r.status_code in (200, 201), r.text
        return r.headers.get("X-Cellgate-Version")

    def close(self):
        self.ws.close()
        self.server.request("DELETE", "/api/sessions/" + self.session["id"])
        self.server.delete_kernel(self.kid)
