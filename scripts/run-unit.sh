#!/usr/bin/env bash
# Runs each unit test binary given as an argument; fails if any fails.
set -u
fail=0
for t in "$@"; do
  if ! "$t"; then
    echo "FAILED: $t" >&2
    fail=1
  fi
done
exit $fail
