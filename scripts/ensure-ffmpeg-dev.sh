#!/usr/bin/env bash
# The dev extra builds Meta's vpdq binding from source (no wheel on PyPI): it links FFmpeg's libraries and needs
# their headers, pkg-config and cmake. Install them with apt-get when they are missing. Production does not
# need any of this: detection/video.py decodes through PyAV, whose wheel ships FFmpeg.
set -euo pipefail
packages=()
command -v cmake >/dev/null 2>&1 || packages+=(cmake)
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
pkg-config --exists libavcodec libavformat libavutil libswscale 2>/dev/null \
  || packages+=(libavcodec-dev libavformat-dev libavdevice-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev)
[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing Debian's ${packages[*]} to build the vpdq binding"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
pkg-config --exists libavcodec libavformat libavutil libswscale || { echo "FFmpeg headers could not be installed" >&2; exit 1; }
