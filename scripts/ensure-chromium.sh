#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright; PDF tests look at page images made by poppler's
# pdftoppm. Install either with apt-get when it is missing.
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || packages+=(poppler-utils)
[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing Debian's ${packages[*]} for the browser and PDF tests"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null
command -v chromium >/dev/null || { echo "chromium could not be installed" >&2; exit 1; }
command -v pdftoppm >/dev/null || { echo "poppler-utils could not be installed" >&2; exit 1; }
