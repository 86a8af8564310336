#!/usr/bin/python3
"""Start a server exactly as the pytest fixture does, run one command against
it, stop the server.

    /usr/bin/python3 tests/integration/py/serve.py [--reference] [--timeout S] -- CMD ARGS...

The command gets CELLGATE_URL, CELLGATE_TOKEN, CELLGATE_PID, CELLGATE_PORT,
CELLGATE_WORKSPACE and CELLGATE_STATE in its environment; --server-arg=ARG
(repeatable) adds ARG to cellgate's command line. The exit status is the command's, or 1
when the server could not start or did not stop cleanly (SIGTERM, SIGKILL
after CELLGATE_STOP_GRACE seconds, processes left behind), or 124 when the
command ran out of time. Used by scripts/run-integration.sh and scripts/bench.sh.
Without --reference, CELLGATE_BIN names the binary (default bin/cellgate).
"""
import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402  (the fixture's Server class)


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", action="store_true", help="Jupyter Server 1.23 instead of cellgate")
    ap.add_argument("--timeout", type=float, default=600, help="seconds the command may run (600)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--native", action="append", default=[], metavar="KERNEL",
                    help="also serve this native kernel from build/ (repeatable)")
    ap.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                    help="one more argument for the server (repeatable)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    name = "Jupyter Server (reference)" if a.reference else "cellgate"
    if not a.reference and not os.access(conftest.cellgate_bin(), os.X_OK):
        print(f"serve: {conftest.cellgate_bin()} is not built (make, or set CELLGATE_BIN)", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv = conftest.Server(a.reference)
    srv.extra_args += a.server_arg
    for k in a.native:
        if not srv.install_native(k):
            print(f"serve: the {k} kernel is not built (make)", file=sys.stderr)
            return 1
    rc, child = 1, None
    try:
        try:
            srv.start()
        except RuntimeError as e:
            print(f"serve: {name} did not start: {e}", file=sys.stderr)
            return 1
        if not a.quiet:
            print(f"serve: {name} pid {srv.pid} at {srv.url} (log {srv.log_path})", file=sys.stderr)
        env = dict(os.environ, CELLGATE_URL=srv.url, CELLGATE_TOKEN=srv.token, CELLGATE_PID=str(srv.pid),
                   CELLGATE_PORT=str(srv.port), CELLGATE_WORKSPACE=srv.workspace,
                   CELLGATE_STATE=srv.state or "")
        child = subprocess.Popen(cmd, env=env)
        try:
            rc = child.wait(a.timeout)
        except subprocess.TimeoutExpired:
            print(f"serve: {' '.join(cmd)} still running after {a.timeout:.0f}s; killing it", file=sys.stderr)
            child.kill()
            child.wait()
            rc = 124
    except Stop as e:
        print(f"serve: stopped by {e}", file=sys.stderr)
        if child and child.poll() is None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        rc = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if srv.proc is not None:
            problems = srv.stop()
            if problems:
                print(f"serve: {name}: " + "\n".join(problems), file=sys.stderr)
                rc = rc or 1
            if rc:
                print(f"serve: {name} log tail:\n{srv.log_tail(30)}", file=sys.stderr)
        srv.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
