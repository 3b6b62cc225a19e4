"""Re-create the shipped photo crops from the Kodak PhotoCD set (the 500 × 500 FFDNet copy in ../shared/data).

Kodak released the PhotoCD images for unrestricted use, so small crops of them may live in the repository: the
test photos (tests/data/photos: HR crops + their bicubic x4 LR) and the quick-start sample (examples/). Run from
the repository root: ``python tests/data/make_test_data.py [KODAK_DIR]``. Pillow's BICUBIC resize (antialiased)
makes the LR images, the degradation the bundled model was trained for.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
#: kodim number -> (left, top, right, bottom) in the 500 × 500 image; sizes are multiples of 4
CROPS = {
    1: (100, 300, 228, 428),  # red door and stone wall: flat colour next to fine texture
    5: (250, 200, 378, 296),  # motocross: saturated edges and text, not square
    8: (120, 150, 376, 342),  # houses: windows and roof tiles (192 × 256: NIQE needs several 96-px patches)
    13: (200, 300, 328, 428),  # river water: stochastic texture
    15: (180, 100, 308, 228),  # face paint: skin and sharp colour edges
}
SAMPLE = 23  # parrots, the whole image downscaled to 160 × 160: the README's quick-start input


def main(kodak: Path) -> None:
    hr_dir, lr_dir = REPO / "tests/data/photos/HR", REPO / "tests/data/photos/LR_bicubic/X4"
    for folder in (hr_dir, lr_dir, REPO / "examples"):
        folder.mkdir(parents=True, exist_ok=True)
    for number, box in CROPS.items():
        with Image.open(kodak / f"kodim{number:02d}.png") as image:
            hr = image.convert("RGB").crop(box)
        hr.save(hr_dir / f"kodim{number:02d}.png", optimize=True)
        hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC).save(lr_dir / f"kodim{number:02d}.png", optimize=True)
    with Image.open(kodak / f"kodim{SAMPLE}.png") as image:
        image.convert("RGB").resize((160, 160), Image.BICUBIC).save(REPO / "examples/kodim23_lr.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared/data/train/Kodak24_500")
