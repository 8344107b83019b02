"""detection._jpegdct decodes JPEGs pixel for pixel as IJG libjpeg 9f does, so PDQ stays bit-exact with Meta's
reference pipeline on every kind of JPEG, not only on Meta's reference files.

Each case is a JPEG drawn and encoded here (shapes, a gradient and noise: never a person). Pinned per case: the
SHA-256 of the JPEG's bytes (so that a change of Pillow's encoder fails with a clear message, not as a hash
mismatch), the SHA-256 of the pixels IJG libjpeg 9f decodes from it at the scale the reference uses, and the
PDQ the reference pipeline gives (bench/pdq_reference.py's `reference_pdq`). The pins were made with the
reference decoder built from IJG 9f (bench/ijg_reference_decoder.c, see docs/benchmarks.md):

    PYTHONPATH=. .venv/bin/python tests/detection/test_jpeg_ijg.py --decoder /tmp/ijg-decode
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image, ImageDraw

from detection import downscale
from detection.hashing import hash_image

_jpegdct = pytest.importorskip("detection._jpegdct")


@dataclass(frozen=True)
class Case:
    name: str
    size: tuple[int, int]
    mode: str  # "RGB", "L" or "CMYK" before encoding
    options: tuple[tuple[str, object], ...]
    scans: int = 0  # keep only the first N scans of a progressive file (0: all)


# Sizes that reach each path of the reference: full size without resizing, full size then bicubic, and the
# 1/2, 1/4 and 1/8 reduced decodings; odd sizes leave partial blocks and MCUs at the right and bottom edges.
CASES = [
    Case("444-full", (301, 203), "RGB", (("subsampling", 0),)),
    Case("422-full", (299, 211), "RGB", (("subsampling", 1),)),
    Case("420-full", (333, 257), "RGB", (("subsampling", 2),)),
    Case("420-full-resized", (701, 499), "RGB", (("subsampling", 2),)),
    Case("422-half", (1037, 301), "RGB", (("subsampling", 1),)),
    Case("420-half-progressive", (301, 1037), "RGB", (("subsampling", 2), ("progressive", True))),
    Case("444-quarter", (2051, 403), "RGB", (("subsampling", 0),)),
    Case("420-quarter", (2051, 403), "RGB", (("subsampling", 2),)),
    Case("422-eighth-progressive", (4103, 701), "RGB", (("subsampling", 1), ("progressive", True))),
    Case("420-eighth", (4103, 701), "RGB", (("subsampling", 2),)),
    Case("rgb-components-full", (257, 190), "RGB", (("keep_rgb", True),)),
    Case("rgb-components-half", (1030, 300), "RGB", (("keep_rgb", True),)),
    Case("grey-full", (300, 200), "L", ()),
    Case("grey-quarter-progressive", (403, 2051), "L", (("progressive", True),)),
    Case("cmyk-full", (250, 180), "CMYK", ()),
    Case("cmyk-half-progressive", (1030, 300), "CMYK", (("progressive", True),)),
    Case("cmyk-eighth", (4103, 701), "CMYK", ()),
    # Progressive files that end before the refinement scans: IJG block-smooths their low AC coefficients.
    Case("420-progressive-5-scans-full", (333, 257), "RGB", (("subsampling", 2), ("progressive", True)), scans=5),
    Case("422-progressive-6-scans-half", (1037, 301), "RGB", (("subsampling", 1), ("progressive", True)), scans=6),
    Case("grey-progressive-2-scans-quarter", (2051, 403), "L", (("progressive", True),), scans=2),
]

# name: (SHA-256 of the JPEG, SHA-256 of IJG 9f's decoded pixels, reference PDQ)
PINNED: dict[str, tuple[str, str, str]] = {
    "444-full": (
        "dff768395be519981bed3e2a9f6b37b17445ceff7acdeda246421c44a1ef60f6",
        "59c5b0c5f4c21a115e02258991b95cfdee871fc4630b7825de0a124270179c55",
        "26342d3e8d7c08ecda2cbb1b3e93f6c36383ef480c7c08bc933a427a46747f83",
    ),
    "422-full": (
        "565b9de98d17af8510efb4604a636491f7e690d5249ba4ae9ad63a0c1385d3ae",
        "e7fe02da48361affdc82728a8ab7cded7372bdbf5b382ac4f3c44023104d1734",
        "b116353e8591e66bad6b5449bccd84cb24cf87691a63ca0b5c576b3e5bb488b0",
    ),
    "420-full": (
        "e5d24f74e86776c51f06fedcf84eef3f3ab03e23e18cf0d00832ab978b4d4890",
        "969303a0ce185f81e660ba142f82c4e958114a848dc19b464fadc4c0bf7e3d43",
        "78ebf9547a27353c8e34543b5839b4490cebe39c47d985ca45994599ebc99944",
    ),
    "420-full-resized": (
        "5082b32e153774f32e242b8db79f3e774c871cd19f3dc7254bb5e9e3e86a9ba3",
        "8d099b8a7a9f9bd819490f6468ca4cc81caf2624045766551b2868dc3e533ac9",
        "6867df1377eb6953b223b5124bdb2166ce93b044cb93156c8a967561f48a8d54",
    ),
    "422-half": (
        "a93bed59a67615dedd077b1a2f2155c507fedc131ed9117e50e2aeb0691065a0",
        "d48b29071ecd4ef4fa708da03340f52e656d1f9352f7404fd176995ae00afd6b",
        "b31bc2ea7f128ae78e75cc07cc6354736a134572cd8e3b9485653f0d16558aa9",
    ),
    "420-half-progressive": (
        "7215a04e567b57c08ec709b480d772e995dbc16c7030e40a912a51e5365578cf",
        "f2d51406b267a298fe27accf61923d733befd555d6026a0917ba904d67a27222",
        "af2da346bd1ca877ba9c22e58a8628a9cd5a21668db818d2fdbb93d306ac535a",
    ),
    "444-quarter": (
        "ed35f140fb625be162e448af552b8369a7b61364a304006c9eb9b3b5e47df51b",
        "023514c20d610f79f1b59ff89413dab0a4f02095e06c5f215ec5182dc9dedd00",
        "07c5b5f079b88b610792f01fe035c0aa03273c2c7cdc3fe3cbca3fba5a0ba4d4",
    ),
    "420-quarter": (
        "385d2d577da390fa4a423a4cbc18abb98e8438eb024f09f073eaad9811db0ff8",
        "b162a4f09879c30818bed0ef70d6bb2a34a802625622d7e126ad702b90575069",
        "637c5ee5d8136db7cabc6b5c48a5b245f22c87bc96da94919c9303b8cd646324",
    ),
    "422-eighth-progressive": (
        "2ed934435b3d83002fb7ca554c2c7d7e80483eb849bd79635a2a91eb33d24816",
        "1c4af2bf293d390d82e271d3ddbd1a757c8a4c7746cf18bcea2475e161b45e5a",
        "9277976a90697e84289ca956d2a34237ad66a0947ac55f4b84abb767407b9f86",
    ),
    "420-eighth": (
        "d0aa94293af23a7dff99f20fcf788afd0316e7ebbd911ac28d4399399558671b",
        "0ca182e2f45054438982f7a69ea0ecb1994f339e36e5daf5b9fa6496d84a4d2a",
        "91b1ab6757a795f629d654aeab6252db92e26d54dc22b0ac262795992ef43188",
    ),
    "rgb-components-full": (
        "aa0c15a486c5c0f47ed6e2520b9b921be6359f553d1edb03f53b108a6fc1caeb",
        "6d2e99a7c42bbd86f7029aaa062869a92871e452f4899504cad214711e62cc79",
        "99f03027870bc3945bc678f0b64bc50b33b6d9b4aee4e499204f8e92fb71c6f0",
    ),
    "rgb-components-half": (
        "8254904627a09f8b02802bafa8aa9a59068e929feb0d6f188e3ff28860726ad3",
        "c5d2ee48ef44a8831ff6cc668f6878c868261c3d0e724570ac26faa8d6887062",
        "96734c7238b10359e1a460e9b1a2e51cc29b2e4619e6d6cec7352d8dd35df2f2",
    ),
    "grey-full": (
        "a2923e5d776f01ae46c11f7e545124dacdc71e5380d6db0488b4113628375c84",
        "5583a60e2896ec6af68f5d9a074740f89023049a8e9cabedb862a51725cae042",
        "b690cb045d2e269bb6926a8bd95564db9a6dc496d9a42bb4334a371d4d9a98ec",
    ),
    "grey-quarter-progressive": (
        "848c4deae197265cf581ba751e3bde615a1918d32e4189d403e78f96d4a85103",
        "49a65d39ee31dd09a673821ac1ebbeb01e703945f769ba7e19b7c083e572deff",
        "a99c1d0db51ce3a424cbe7f896160e0c9ef37a4b98f2e1e2b48383bc2c5be929",
    ),
    "cmyk-full": (
        "5a8f27ed3a7def208860b8b160e8bbb14f0c2757c0a32a0e6cfd79e70173f74d",
        "e2f658d97ce365e6a88995f65ee948319e2953c7f0d25bcce81be8219a68f9f1",
        "ee1d95276e0994e4e0c3f4545e8a28e3070e8e6d1ce60ecd5cf6039d733efc28",
    ),
    "cmyk-half-progressive": (
        "4c172314dfa39a4adbe18c875468faa19e1f2d342d2d9f94c340182d613d264a",
        "5b720e138cff9f824c96521b81234d16abd4b8a1247125686884cafcd6a28138",
        "15a9b0e813a9b17195e19cf19cf1946db2e7b4397c716cb36c724432ead39a48",
    ),
    "cmyk-eighth": (
        "4a42b82e1a3770f47826a1da438cb22b8958fda545dc2a878e7edc2228f3d128",
        "61faa8af1702b19d409166de54a1f01595510c342d77a57d56f5f65ee8749e59",
        "ad49d6182b1d4cb55896b5bad66ae24eb50b43bc0bf155b4f245d44badac1d50",
    ),
    "420-progressive-5-scans-full": (
        "f815312f5c58def2c86c910024ae714bc00cea18f72c0e617561c90091bb7bf3",
        "889fda93e0cca23a0b4db6c7faee0aafad1029b274c349b33b45fa991ca43f7d",
        "ac4c5ab4a178d3abaf0673363b72d3371132d3693bb6eb45368b88cc29b4cc44",
    ),
    "422-progressive-6-scans-half": (
        "78959da8c7766bbd16ae51cfceb08509cd5507dc796b88848a3118e55a9e24b4",
        "bcbbde3a0e0cfb463f139f35344071fe3de53dbf1c73af4a77ed92d8efc37155",
        "5afaa9297348e43bd35cada5854698a7a7c9f28b9a49a7685493392766359a98",
    ),
    "grey-progressive-2-scans-quarter": (
        "81ed071e364a4b8559b97ba1010c7c4015c99440428b9c6a4f0babf5ad534c67",
        "c024c92bf342699b84ecd4390b9379aaf210ae97b7167d99ca4619899ec10bea",
        "0647634d6d3296879b8e29df188a9fc513aee556924e4d874eddc08e3f626139",
    ),
}


def drawn_jpeg(case: Case) -> bytes:
    width, height = case.size
    rng = np.random.default_rng(sum(map(ord, case.name)))
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], axis=-1)
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = (x0, y0, x0 + int(rng.integers(4, width // 3 + 5)), y0 + int(rng.integers(4, height // 3 + 5)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    noise = rng.integers(-12, 13, (height, width, 3))
    image = Image.fromarray(np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8), "RGB")
    if case.mode != "RGB":
        image = image.convert(case.mode)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, **dict(case.options))
    return first_scans(out.getvalue(), case.scans) if case.scans else out.getvalue()


def first_scans(data: bytes, count: int) -> bytes:
    """The JPEG cut after its first `count` scans and closed with EOI: still a valid file."""
    position, seen = 2, 0
    while True:
        marker = data[position + 1]
        if marker == 0xDA:  # SOS: header, then entropy-coded data up to the next marker that is not RSTn
            seen += 1
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            while not (data[position] == 0xFF and data[position + 1] not in (0x00, *range(0xD0, 0xD8))):
                position += 1
            if seen == count:
                return data[:position] + b"\xff\xd9"
        elif marker == 0xD9:
            raise ValueError(f"only {seen} scans")
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")


def reference_scale(size: tuple[int, int]) -> int:
    target = downscale.thumbnail_size(*size)
    return downscale.draft_scale(size, target) if target != size else 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jpeg_pixels_and_pdq_equal_ijg_9f(case: Case) -> None:
    jpeg_sha, pixels_sha, pdq = PINNED[case.name]
    data = drawn_jpeg(case)
    assert hashlib.sha256(data).hexdigest() == jpeg_sha, (
        "Pillow now encodes this drawing differently (a new Pillow or libjpeg-turbo?): the pinned pixels and PDQ "
        "no longer apply. Regenerate the pins as the module docstring says."
    )
    scale = reference_scale(case.size)
    decoded = _jpegdct.decode(data, scale)
    assert decoded is not None
    mode, width, height, pixels = decoded
    assert mode == case.mode
    assert (width, height) == (-(-case.size[0] // scale), -(-case.size[1] // scale))
    assert hashlib.sha256(pixels).hexdigest() == pixels_sha, "decoded pixels differ from IJG libjpeg 9f's"
    assert hash_image(data).pdq == pdq


def test_truncated_jpeg_is_refused_at_every_scale() -> None:
    data = drawn_jpeg(CASES[0])
    for scale in (1, 2, 4, 8):
        with pytest.raises(ValueError, match="Premature end"):
            _jpegdct.decode(data[: len(data) // 2], scale)


def _print_pins(decoder: str) -> None:  # pragma: no cover - run by hand, see the module docstring
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from pdq_reference import reference_pdq

    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            data = drawn_jpeg(case)
            path = Path(folder) / f"{case.name}.jpg"
            path.write_bytes(data)
            out = subprocess.run([decoder, str(path), str(reference_scale(case.size))], capture_output=True, check=True)
            raw = out.stdout.split(b"\n", 1)[1]
            digests = (hashlib.sha256(data).hexdigest(), hashlib.sha256(raw).hexdigest(), reference_pdq(path, decoder))
            print(f'    "{case.name}": (\n' + "".join(f'        "{d}",\n' for d in digests) + "    ),")


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--decoder", required=True, help="bench/ijg_reference_decoder.c built against IJG 9f")
    _print_pins(parser.parse_args().decoder)
