from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from oftsr_edge.train.bicubic import BicubicUpsampler, phase_taps


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_conv_upsampler_matches_torch_bicubic(scale: int) -> None:
    x = torch.rand(2, 3, 11, 16) * 2 - 1
    ref = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert (BicubicUpsampler(scale).upsample(x) - ref).abs().max() < 1e-5


def test_phase_taps_are_partitions_of_unity() -> None:
    for scale in (2, 4, 8):
        assert torch.allclose(torch.from_numpy(phase_taps(scale).sum(axis=1)), torch.ones(scale, dtype=torch.float64))
