"""What training and evaluation agree on about HR/LR pairs, torch-free: the degradation names and the modcrop rule.

Both sides import it from here so neither imports the other for them: ``train.degradations`` implements each name
(a test checks its table has exactly these keys), ``evaluation`` and the ``degrade`` command offer them as choices,
and training's validation and ``eval --lr`` crop HR to its LR by the same rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError

#: every LR synthesis the training pipeline implements, by the name the ``--degradation`` option takes
DEGRADATIONS = ("bicubic", "realesrgan", "realesrgan-mix")


def crop_hr_to_lr(hr: np.ndarray, lr_shape: tuple[int, ...], scale: int, hr_path: Path, lr_path: Path) -> np.ndarray:
    """HR cropped to ``scale ×`` the LR size; only the usual "modcrop" is allowed.

    The rule: each HR side must be ``scale × LR side`` plus at most ``scale − 1`` pixels (what rounding an HR size
    down to a multiple of the scale drops). Anything else means LR of another scale or other pictures, whose scores
    would compare different content, so it is refused naming the pair."""
    (h, w), (lh, lw) = hr.shape[:2], lr_shape[:2]
    if not (0 <= h - lh * scale < scale and 0 <= w - lw * scale < scale):
        raise OftsrError(
            f"{hr_path.name}: HR {w}×{h} does not match LR {lr_path.name} {lw}×{lh} at ×{scale} (HR must be "
            f"{lw * scale}×{lh * scale}, up to {scale - 1} px more per side): wrong --lr folder or model scale?"
        )
    return hr[: lh * scale, : lw * scale]
