#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright; install it with apt-get when it is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "installing Debian's chromium for the browser tests"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null || { echo "chromium could not be installed" >&2; exit 1; }
