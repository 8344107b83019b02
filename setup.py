"""Compiled parts of the project; everything else is declared in pyproject.toml.

- detection._mih: multi-index hashing for the exact PDQ / 64-bit hash index (plain C, no dependencies).
- detection._jpegdct: decodes JPEGs as IJG libjpeg 9f does, for PDQ bit-exact with Meta's reference. It reads
  DCT coefficients with the system libjpeg (needs libjpeg's headers at build time: Debian's libjpeg-dev) and runs
  IJG 9f's integer inverse DCTs from build/ijg9f/jidctint.c, which scripts/fetch-ijg-idct.sh fetches from PyPI's
  jpeglib sdist (IJG's code is not kept in this repository). The declarations jidctint.c needs are ours
  (detection/ijg_shim/), found through -iquote so that they never shadow the system <jpeglib.h>.
"""

import platform
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra"]
# The hardware popcount instruction (every x86-64 CPU since 2008); without the flag GCC calls a slow routine.
_POPCOUNT = ["-mpopcnt"] if platform.machine().lower() in ("x86_64", "amd64") else []
_IJG_IDCT = "build/ijg9f/jidctint.c"
# -fvisibility=hidden: IJG's functions never leave the module. IJG's file is compiled as IJG compiles it: its
# unused parameters are not ours to silence otherwise.
_JPEGDCT_FLAGS = [*_FLAGS, "-iquote", "detection/ijg_shim", "-fvisibility=hidden", "-Wno-unused-parameter"]


class _BuildExtNeedingIJG(build_ext):
    """Stops before compiling if IJG's file has not been fetched, saying how to fetch it."""

    def run(self) -> None:
        if not (Path(__file__).resolve().parent / _IJG_IDCT).is_file():
            raise SystemExit(
                f"setup.py: {_IJG_IDCT} is missing: run scripts/fetch-ijg-idct.sh first (it fetches IJG libjpeg "
                "9f's inverse DCTs from PyPI's jpeglib sdist; see docs/hashing.md)."
            )
        super().run()


setup(
    cmdclass={"build_ext": _BuildExtNeedingIJG},
    ext_modules=[
        Extension("detection._mih", ["detection/_mih.c"], extra_compile_args=_FLAGS + _POPCOUNT),
        Extension(
            "detection._jpegdct",
            ["detection/_jpegdct.c", "detection/ijg_idct.c", _IJG_IDCT],
            libraries=["jpeg"],
            extra_compile_args=_JPEGDCT_FLAGS,
        ),
    ],
)
