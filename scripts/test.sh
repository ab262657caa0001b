#!/usr/bin/env bash
# The whole test suite, as CI runs it: bash scripts/test.sh [pytest arguments]
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# The dashboard's browser tests drive Debian's chromium through its chromedriver. As root (CI)
# they are installed when missing; elsewhere the browser tests say they did not run (under
# CI=true a missing browser fails them).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "hf_tracking: installing chromium and chromium-driver for the browser tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver >/dev/null; } || echo "hf_tracking: could not install chromium" >&2
  else
    echo "hf_tracking: no chromium/chromedriver here: the browser tests will not run" \
      "(apt-get install chromium chromium-driver)"
  fi
fi
set +e
"$PY" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "hf_tracking: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
