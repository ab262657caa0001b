#!/usr/bin/env bash
# The whole test suite, as CI runs it: bash scripts/test.sh [pytest arguments]
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
set +e
"$PY" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "hf_tracking: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
