#!/usr/bin/env bash
# The one install list for cellgate. `make run`, `make test` and `make bench`
# call it; it does nothing when everything is already present, so it is cheap
# to run on every invocation.
#
# Debian bookworm packages only (PyPI is not reachable here); npm packages for
# the test clients and the web build come from their committed lockfiles.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

# Build toolchain and C libraries. The server speaks ZMTP itself
# (kernels/zsock.c); libzmq3-dev is for native kernels and test clients.
pkgs_build=(
  build-essential pkg-config clang
  libzmq3-dev libjansson-dev libwebsockets-dev libwebsockets-evlib-uv
  libuv1-dev libssl-dev libsqlite3-dev libseccomp-dev libcmocka-dev
)
# What kernels and sandboxes run on.
pkgs_runtime=(
  bubblewrap python3-ipykernel
)
# Test and benchmark clients (run with /usr/bin/python3) and the reference
# server the benchmark compares against.
pkgs_test=(
  python3-jupyter-client python3-nbformat python3-jupyter-kernel-test python3-zmq
  python3-jupyter-server python3-websocket python3-requests python3-pytest
  nodejs npm
  chromium
)

# Native kernels (PARI/GP, GAP).
pkgs_kernels=(
  libpari-dev pari-gp libgap-dev gap
)
# Browser tests of the web UI.
pkgs_web=(
)
# The notebook store.
pkgs_store=(
)

missing=()
for p in "${pkgs_build[@]}" "${pkgs_runtime[@]}" "${pkgs_test[@]}" \
         ${pkgs_kernels[@]+"${pkgs_kernels[@]}"} ${pkgs_web[@]+"${pkgs_web[@]}"} \
         ${pkgs_store[@]+"${pkgs_store[@]}"}; do
  # nodejs/npm may come from elsewhere than Debian; a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages: install from the lockfile when node_modules is missing or older
# than the lockfile.
npm_ci() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in ${dir#"$here"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci "$here/tests/integration/node"
npm_ci "$here/web"
