from __future__ import annotations

import pytest
import torch

from oftsr_edge.train.model import CONFIGS, OFTSRUNet, describe


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_velocity_has_hr_shape(scale: int) -> None:
    model = OFTSRUNet(CONFIGS["tiny"], scale)
    x = torch.randn(2, 3, 8 * scale, 6 * scale)
    assert model(x, torch.randn_like(x), torch.tensor([0.1, 0.9])).shape == x.shape


def test_t_changes_the_velocity_once_weights_are_nonzero() -> None:
    torch.manual_seed(0)
    model = OFTSRUNet(CONFIGS["tiny"], 4)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(1, 3, 32, 32)
    assert (model(x, x, 0.0) - model(x, x, 1.0)).abs().max() > 1e-4


def test_small_config_fits_the_edge_budget() -> None:
    info = describe(CONFIGS["small"], 4)
    assert info["params"] <= 3_000_000
    assert info["gflops_per_output_mp"] <= 40.0


def test_cost_grows_with_lr_pixels_not_hr_pixels() -> None:
    # same LR work at x2 and x8 apart from the in/out convs: per output MP the cost falls with the scale
    assert describe(CONFIGS["small"], 8)["gflops_per_output_mp"] < describe(CONFIGS["small"], 4)["gflops_per_output_mp"]


def test_bad_scale_is_rejected() -> None:
    with pytest.raises(ValueError):
        OFTSRUNet(CONFIGS["tiny"], 3)
