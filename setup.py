"""Compiled parts of the project; everything else is declared in pyproject.toml.

- detection._mih: multi-index hashing for the exact PDQ / 64-bit hash index (plain C, no dependencies).
- detection._jpegdct: reads a JPEG's DCT coefficients with the system libjpeg, for bit-exact reference PDQ
  on large JPEGs (needs libjpeg's headers at build time: Debian's libjpeg-dev).
"""

from setuptools import Extension, setup

_FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra"]

setup(
    ext_modules=[
        Extension("detection._jpegdct", ["detection/_jpegdct.c"], libraries=["jpeg", "m"], extra_compile_args=_FLAGS),
    ],
)
