"""Shared builders for detector, provenance and verdict tests: images drawn in code, a tiny random model."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from detection.detector.npr import NPRNet
from detection.detector.weights import weights_write
from tests.detection.detection_images import noise_image, upsampled_image

TINY_ARCH = {"width": 4, "layers": [1, 1]}


@pytest.fixture
def tiny_weights(tmp_path: Path) -> tuple[Path, str]:
    """A randomly initialised tiny NPR model in the project's weights format, and its SHA-256."""
    torch.manual_seed(0)
    model = NPRNet(**TINY_ARCH)
    path = tmp_path / "tiny.pt"
    sha = weights_write(path, architecture="npr", arch_kwargs=TINY_ARCH, state_dict=model.state_dict(), meta={})
    return path, sha


@pytest.fixture
def calibrated_weights(tmp_path: Path) -> Callable[[list[float]], tuple[Path, str]]:
    """The tiny model with a calibration record made from the given held-out real scores (1 % target)."""
    from detection.detector.calibration import calibration_choose, calibration_record

    def build(real_scores: list[float]) -> tuple[Path, str]:
        torch.manual_seed(0)
        model = NPRNet(**TINY_ARCH)
        calibration = calibration_choose(real_scores, measured_on="test set of drawn images")
        path = tmp_path / f"calibrated-{len(list(tmp_path.iterdir()))}.pt"
        sha = weights_write(
            path,
            architecture="npr",
            arch_kwargs=TINY_ARCH,
            state_dict=model.state_dict(),
            meta={"calibration": calibration_record(calibration, real_scores)},
        )
        return path, sha

    return build


@pytest.fixture
def image_folders(tmp_path: Path) -> Callable[[int, int], tuple[Path, Path]]:
    """real/ holds noise photos (one group each); generated/ holds up-sampled ones in per-source folders."""

    def build(n_real: int = 8, n_fake: int = 8) -> tuple[Path, Path]:
        real, fake = tmp_path / "real", tmp_path / "generated"
        real.mkdir()
        for index in range(n_real):
            Image.fromarray(noise_image(index, (96, 96))).save(real / f"photo-{index}.png")
        for index in range(n_fake):
            folder = fake / f"source-{index // 2}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(upsampled_image(1000 + index, (96, 96))).save(folder / f"gen-{index}.png")
        return real, fake

    return build


@pytest.fixture(scope="session")
def c2pa_signer_pems() -> tuple[bytes, bytes, bytes]:
    """A throwaway ES256 CA and signing certificate (chain PEM, key PEM, CA PEM) made in code."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Org"),
            ]
        )

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=not sign,
            crl_sign=not sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Test Root"))
        .issuer_name(name("Test Root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Test Signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain, key_pem, ca.public_bytes(pem)


@pytest.fixture(scope="session")
def c2pa_sign(c2pa_signer_pems: tuple[bytes, bytes, bytes]) -> Callable[[bytes, str, str], bytes]:
    """Sign JPEG bytes with a C2PA manifest whose c2pa.created action has the given source type and agent."""
    import c2pa

    chain, key, _ = c2pa_signer_pems

    def sign(jpeg: bytes, source_type: str, agent: str, mime: str = "image/jpeg") -> bytes:
        manifest = {
            "claim_generator_info": [{"name": "TestGen", "version": "1.0"}],
            "title": "image.jpg",
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}",
                                "softwareAgent": {"name": agent},
                            }
                        ]
                    },
                }
            ],
        }
        settings = c2pa.Settings.from_dict(
            {
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                "builder": {"thumbnail": {"enabled": False}},
            }
        )
        context = c2pa.Context(settings=settings)
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
        out = io.BytesIO()
        c2pa.Builder(manifest, context=context).sign(signer, mime, io.BytesIO(jpeg), out)
        return out.getvalue()

    return sign
