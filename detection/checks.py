"""`check --deploy` refuses a deployment whose compiled parts are missing.

Without ``detection._jpegdct`` PDQ of a JPEG is taken from Pillow's decoding and may differ from Meta's reference
by a few bits (docs/hashing.md); without ``detection._mih`` the hash index is a numpy scan, hundreds of times
slower. Both still work, so a development checkout without a compiler runs; a deployment must not.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.checks import CheckMessage, Error, register

_COMPILED = {
    "detection._jpegdct": "PDQ of JPEGs would not be decoded as Meta's reference decodes them (hashes may differ)",
    "detection._mih": "the hash index would fall back to a numpy scan",
}


@register(deploy=True)
def compiled_parts_present(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(f"{name} is not built: {consequence}",
                  hint="Install the project with its compiled parts (scripts/venv.sh, or the Dockerfile's build "
                       "stage), which needs a C compiler, libjpeg's headers and scripts/fetch-ijg-idct.sh.",
                  id=f"detection.E00{number}")
            for number, (name, consequence) in enumerate(_COMPILED.items(), start=1)
            if importlib.util.find_spec(name) is None]
