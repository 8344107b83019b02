"""A weights file is data from outside: nothing in it may run code, whichever path loads it.

Hostile files name an importable callable as their architecture ("subprocess:run", "os:system") with arguments
that would create a marker file, or carry a pickled payload. None of them may run through `detector_load`,
`detector_eval --split all` (which computes the SHA-256 itself) or the worker's analysis task.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import CommandError, call_command

from detection.detector.npr import NPRNet
from detection.detector.registry import ArchitectureError, architecture_build
from detection.detector.runtime import DetectorConfig, detector_load
from detection.detector.weights import file_sha256, weights_write
from detection.services import detector_current
from tests.detection.conftest import TINY_ARCH
from tests.detection.detection_images import png_bytes, upsampled_image


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        # Unpickling would write the marker file.
        return (Path.write_text, (Path(self.marker), "pickled code ran"))  # type: ignore[arg-type]


def _hostile(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    marker = tmp_path / f"ran-{kind}"
    path = tmp_path / f"{kind}.pt"
    state = NPRNet(**TINY_ARCH).state_dict()
    if kind == "subprocess":
        weights_write(path, architecture="subprocess:run", arch_kwargs={"args": ["touch", str(marker)]},
                      state_dict=state, meta={})
    elif kind == "os_system":
        weights_write(path, architecture="os.system", arch_kwargs={"command": f"touch {marker}"}, state_dict=state,
                      meta={})
    elif kind == "kwargs":
        # A registered name, with arguments NPR does not take or that would exhaust memory.
        weights_write(path, architecture="npr", arch_kwargs={"width": 10**9, "layers": [1, 1]}, state_dict=state,
                      meta={})
    else:
        buffer = io.BytesIO()
        torch.save({"format": "takedown-detector-weights/1", "architecture": "npr", "arch_kwargs": TINY_ARCH,
                    "state_dict": _Payload(marker), "meta": {}}, buffer)
        path.write_bytes(buffer.getvalue())
    return path, marker


KINDS = ["subprocess", "os_system", "kwargs", "pickle"]
EXPECTED = {
    "subprocess": "never from a weights file",
    "os_system": "never from a weights file",
    "kwargs": "npr width must be an integer from 1 to 512",
    "pickle": "not a loadable torch file",
}


@pytest.fixture(autouse=True)
def _fresh_detector() -> Iterator[None]:
    detector_current.cache_clear()
    yield
    detector_current.cache_clear()


@pytest.mark.parametrize("kind", KINDS)
def test_detector_load_runs_nothing_from_a_hostile_file(tmp_path: Path, kind: str) -> None:
    path, marker = _hostile(tmp_path, kind)
    detector = detector_load(DetectorConfig(weights_path=str(path), weights_sha256=file_sha256(path), device="cpu"))
    assert not detector.status.enabled and EXPECTED[kind] in detector.status.reason
    assert not marker.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_detector_eval_split_all_runs_nothing_from_a_hostile_file(
    tmp_path: Path, kind: str, image_folders: Any
) -> None:
    real, fake = image_folders(2, 4)
    path, marker = _hostile(tmp_path, kind)
    with pytest.raises(CommandError, match=EXPECTED[kind]):
        call_command("detector_eval", "--real", str(real), "--fake", str(fake), "--weights", str(path),
                     "--split", "all", "--bootstrap", "0", "--no-progress", "--device", "cpu", stdout=io.StringIO())
    assert not marker.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
def test_the_worker_runs_nothing_from_a_hostile_file(tmp_path: Path, kind: str, settings: Any) -> None:
    from takedown.cases.services import case_images_analyse
    from tests.remedies.factory import case_make, image_add

    settings.STORAGE_ROOT = tmp_path / "storage"
    path, marker = _hostile(tmp_path, kind)
    # DETECTOR_ARCHITECTURE unset: the worker takes the architecture from the file, which may only be registered.
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(path), file_sha256(path)
    settings.DETECTOR_ARCHITECTURE, settings.DETECTOR_DEVICE = "", "cpu"
    case = case_make(images=0)
    image = image_add(case, data=png_bytes(upsampled_image(3, (256, 256))))
    case_images_analyse(image_ids=[image.id])
    image.refresh_from_db()
    assert image.analysis["detector"]["status"]["enabled"] is False
    assert EXPECTED[kind] in image.analysis["reasons"][0]
    assert not marker.exists()


def test_a_dotted_path_is_accepted_from_settings_only() -> None:
    with pytest.raises(ArchitectureError, match="never from a weights file"):
        architecture_build("detection.detector.npr:NPRNet", TINY_ARCH)
    assert isinstance(architecture_build("detection.detector.npr:NPRNet", TINY_ARCH, from_settings=True), NPRNet)
