#!/usr/bin/env bash
# Run run.mjs against the reference implementation, Debian's Jupyter Server
# (python3-jupyter-server, 1.23 on bookworm), in both WebSocket protocols.
# This is how the test itself is checked: whatever fails here is a bug in the
# test, not in cellgate.
#
#   tests/integration/node/run-against-jupyter-server.sh [port]
#
# Needs: apt-get install -y python3-jupyter-server python3-ipykernel; npm ci here.
set -euo pipefail
cd "$(dirname "$0")"

port="${1:-18888}"
token="T"
root="$(mktemp -d)"
mkdir -p "$root/it"
log="$root/jupyter-server.log"

# Always the system interpreter: Debian's jupyter_server lives in its
# dist-packages, which a venv or another python3 on PATH would not see.
# port_retries=0: if the port is taken, fail rather than quietly move to the
# next one while the test talks to whatever holds this one.
/usr/bin/python3 -m jupyter_server --allow-root --no-browser --port "$port" \
  --ServerApp.port_retries=0 \
  --ServerApp.token="$token" --ServerApp.root_dir="$root" >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

ready=""
for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "jupyter_server exited"; exit 1; }
  grep -q "is running at" "$log" && { ready=1; break; }
  sleep 0.2
done
[ -n "$ready" ] || { cat "$log"; echo "jupyter_server did not start within 20 s"; exit 1; }

status=0
for proto in legacy v1; do
  CELLGATE_URL="http://127.0.0.1:$port/" CELLGATE_TOKEN="$token" WS_PROTOCOL="$proto" \
    node run.mjs || status=1
done
exit "$status"
