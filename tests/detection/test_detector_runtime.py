import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detection.detector.interface import Detector, DetectorUnavailable, DisabledDetector
from detection.detector.npr import NPRNet
from detection.detector.registry import ArchitectureError, architecture_resolve
from detection.detector.runtime import DetectorConfig, DetectorConfigError, TorchDetector, detector_load
from detection.detector.weights import WeightsError, file_sha256, weights_read
from tests.detection.detection_images import noise_image, upsampled_image


def config(path: Path, sha: str, **overrides: object) -> DetectorConfig:
    return DetectorConfig(weights_path=str(path), weights_sha256=sha, device="cpu", **overrides)  # type: ignore[arg-type]


def test_without_weights_the_detector_is_off_and_says_so() -> None:
    detector = detector_load(DetectorConfig())
    assert isinstance(detector, DisabledDetector)
    assert isinstance(detector, Detector)
    assert not detector.status.enabled
    assert "DETECTOR_WEIGHTS" in detector.status.reason
    with pytest.raises(DetectorUnavailable, match="DETECTOR_WEIGHTS"):
        detector.score([noise_image(0)])


def test_hash_mismatch_turns_the_detector_off_with_both_hashes(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    wrong = "0" * 64
    detector = detector_load(config(path, wrong))
    assert not detector.status.enabled
    assert "mismatch" in detector.status.reason and wrong in detector.status.reason and sha in detector.status.reason
    with pytest.raises(WeightsError, match="mismatch"):
        detector_load(config(path, wrong), strict=True)


def test_a_modified_weights_file_is_refused(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert not detector_load(config(path, sha)).status.enabled


@pytest.mark.parametrize(
    ("sha", "message"), [("", "unverified"), ("abc", "64 hexadecimal"), ("g" * 64, "64 hexadecimal")]
)
def test_weights_without_a_usable_hash_setting_are_not_loaded(
    tiny_weights: tuple[Path, str], sha: str, message: str
) -> None:
    path, _ = tiny_weights
    detector = detector_load(config(path, sha))
    assert not detector.status.enabled and message in detector.status.reason


def test_missing_file_is_reported(tmp_path: Path) -> None:
    detector = detector_load(config(tmp_path / "nope.pt", "a" * 64))
    assert "not found" in detector.status.reason


def test_a_file_that_is_not_torch_weights_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(os.urandom(2048))
    detector = detector_load(config(path, file_sha256(path)))
    assert "not a loadable torch file" in detector.status.reason


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pickled code ran",))


def test_pickled_code_in_a_weights_file_is_never_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "takedown-detector-weights/1", "state_dict": _Payload()}, path)
    with pytest.raises(WeightsError):
        weights_read(path, expected_sha256=file_sha256(path))
    assert "pickled code ran" not in capsys.readouterr().out


def test_settings_architecture_must_match_the_weights(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    detector = detector_load(config(path, sha, architecture="detection.detector.npr.NPRNet"))
    assert not detector.status.enabled and "trained for 'npr'" in detector.status.reason


def test_weights_that_do_not_fit_the_architecture_are_refused(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    detector = detector_load(config(path, sha, arch_kwargs={"width": 8}))
    assert not detector.status.enabled and "do not fit" in detector.status.reason


def test_bare_state_dict_with_a_dotted_path_architecture(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = NPRNet(width=4, layers=(1, 1))
    path = tmp_path / "bare.pt"
    torch.save(model.state_dict(), path)
    detector = detector_load(
        config(
            path,
            file_sha256(path),
            architecture="detection.detector.npr:NPRNet",
            arch_kwargs={"width": 4, "layers": [1, 1]},
        ),
        strict=True,
    )
    assert detector.status.architecture == "detection.detector.npr:NPRNet"
    assert detector.score([noise_image(0)]).shape == (1,)


@pytest.mark.parametrize("name", ["nosuch", "detection.nosuchmodule.Net", "detection.detector.npr.NoSuch"])
def test_unknown_architectures_are_clear_errors(name: str) -> None:
    with pytest.raises(ArchitectureError):
        architecture_resolve(name)


def test_bad_threshold_and_device_turn_the_detector_off(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    assert "threshold" in detector_load(config(path, sha, threshold=1.5)).status.reason
    bad_device = DetectorConfig(weights_path=str(path), weights_sha256=sha, device="tpu")
    assert "unknown detector device" in detector_load(bad_device).status.reason
    with pytest.raises(DetectorConfigError):
        detector_load(bad_device, strict=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_forcing_cuda_without_cuda_says_so(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    detector = detector_load(DetectorConfig(weights_path=str(path), weights_sha256=sha, device="cuda"))
    assert "CUDA is not available" in detector.status.reason


def test_scores_are_probabilities_deterministic_and_batch_independent(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    one = detector_load(config(path, sha, batch_size=1), strict=True)
    many = detector_load(config(path, sha, batch_size=3), strict=True)
    assert isinstance(one, TorchDetector)
    assert one.status.enabled and one.status.weights_sha256 == sha and one.status.device == "cpu"
    images = [
        noise_image(1),
        Image.fromarray(upsampled_image(2)),
        noise_image(3, (50, 40)),
        np.asarray(Image.fromarray(noise_image(4)).convert("L")),
        Image.fromarray(noise_image(5)).convert("RGBA"),
    ]
    a = one.score(images)
    b = many.score(images)
    assert a.shape == (5,) and a.dtype == np.float32
    assert np.all((a >= 0) & (a <= 1))
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(a, one.score(images))
    assert one.score([]).shape == (0,)


def test_bf16_autocast_on_cpu_stays_close_to_fp32(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    fp32 = detector_load(config(path, sha), strict=True)
    bf16 = detector_load(config(path, sha, precision="bf16"), strict=True)
    assert bf16.status.precision == "bf16" and fp32.status.precision == "fp32"
    images = [noise_image(i) for i in range(3)]
    np.testing.assert_allclose(fp32.score(images), bf16.score(images), atol=0.05)


def test_weights_file_hash_is_the_file_bytes_hash(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    loaded = weights_read(path, expected_sha256=sha.upper())
    assert loaded.architecture == "npr" and loaded.arch_kwargs == {"width": 4, "layers": [1, 1]}
    assert isinstance(torch.load(io.BytesIO(path.read_bytes()), weights_only=True), dict)


def test_cpu_threads_setting_sets_torchs_threads(tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    before = torch.get_num_threads()
    try:
        detector = detector_load(DetectorConfig(weights_path=str(path), weights_sha256=sha, device="cpu",
                                                cpu_threads=1))
        assert detector.status.enabled and torch.get_num_threads() == 1
        off = detector_load(DetectorConfig(weights_path=str(path), weights_sha256=sha, device="cpu", cpu_threads=-1))
        assert not off.status.enabled and "CPU threads" in off.status.reason
    finally:
        torch.set_num_threads(before)
