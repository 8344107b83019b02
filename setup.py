"""Compiled parts of the project; everything else is declared in pyproject.toml.

- detection._mih: multi-index hashing for the exact PDQ / 64-bit hash index (plain C, no dependencies).
- detection._jpegdct: reads a JPEG's DCT coefficients with the system libjpeg, for bit-exact reference PDQ
  on large JPEGs (needs libjpeg's headers at build time: Debian's libjpeg-dev).
"""

import platform

from setuptools import Extension, setup

_FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra"]
# The hardware popcount instruction (every x86-64 CPU since 2008); without the flag GCC calls a slow routine.
_POPCOUNT = ["-mpopcnt"] if platform.machine().lower() in ("x86_64", "amd64") else []

setup(
    ext_modules=[
        Extension("detection._mih", ["detection/_mih.c"], extra_compile_args=_FLAGS + _POPCOUNT),
        Extension("detection._jpegdct", ["detection/_jpegdct.c"], libraries=["jpeg", "m"], extra_compile_args=_FLAGS),
    ],
)
