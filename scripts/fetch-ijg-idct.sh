#!/usr/bin/env bash
# Fetches IJG libjpeg 9f's integer inverse DCTs (jidctint.c) into build/ijg9f/, for detection._jpegdct.
#
# Why: Meta's reference PDQ hashes were made on JPEGs decoded by IJG libjpeg 9, and only IJG's own integer
# inverse DCTs reproduce its pixels bit for bit (docs/hashing.md). IJG's code is not kept in this repository:
# it is taken, at build time, from the source distribution of the PyPI package jpeglib, which carries IJG 9f's
# C sources. Only jidctint.c is used; the declarations it needs are our own (detection/ijg_shim/).
#
# Usage: scripts/fetch-ijg-idct.sh [PYTHON]   (any Python with pip; default: python3)
# Fails loudly (non-zero exit) if the download, the checksum or the extraction fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-${PYTHON:-python3}}

version=1.0.2
sdist_sha256=25eadd5497c94771c53deb6aa6646f0030ac24509fa9c3b89e984e11390bf3d9
member=jpeglib-$version/src/jpeglib/cjpeglib/9f/jidctint.c
file_sha256=5d2cb947a19ada7a0ff2d5ece852ca8ca17c4ce3c9bd33e11b6c40e83deb361b
target=build/ijg9f/jidctint.c

if [ -f "$target" ] && [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$file_sha256" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'jpeglib==%s --hash=sha256:%s\n' "$version" "$sdist_sha256" >"$work/requirement.txt"
if ! "$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
     --require-hashes -r "$work/requirement.txt" -d "$work/dist"; then
  echo "fetch-ijg-idct: could not download the jpeglib==$version sdist from PyPI (network? index?)" >&2
  exit 1
fi
sdist="$work/dist/jpeglib-$version.tar.gz"
if [ "$(sha256sum "$sdist" | cut -d' ' -f1)" != "$sdist_sha256" ]; then
  echo "fetch-ijg-idct: $sdist does not have the pinned SHA-256 $sdist_sha256" >&2
  exit 1
fi
tar -xzf "$sdist" -C "$work" "$member"
if [ "$(sha256sum "$work/$member" | cut -d' ' -f1)" != "$file_sha256" ]; then
  echo "fetch-ijg-idct: $member does not have the pinned SHA-256 $file_sha256" >&2
  exit 1
fi
mkdir -p "$(dirname "$target")"
cp "$work/$member" "$target"
echo "fetch-ijg-idct: $target (IJG libjpeg 9f, from PyPI jpeglib==$version)"
