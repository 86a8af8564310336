#!/usr/bin/env bash
# `make run`: starts the server on the workspace ./workspace (or $CELLGATE_ROOT)
# with the embedded defaults, and prints its URL with the token.
#
# Kernels run as an unprivileged user. When the server runs as root they run
# as `nobody`, so the workspace is handed to nobody for them to write in.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=${CELLGATE_ROOT:-$here/workspace}
port=${PORT:-8888}

mkdir -p "$root"
if [ "$(id -u)" -eq 0 ] && [ -z "${CELLGATE_KERNEL_USER:-}" ]; then
  chown nobody:nogroup "$root"
fi
exec "$here/bin/cellgate" serve --root "$root" --port "$port" "$@"
