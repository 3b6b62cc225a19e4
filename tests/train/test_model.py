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


# ---- two-time models (MeanFlow students, docs/architecture.md §4-5) -----------------------------------------------


def test_one_time_models_keep_their_checkpoint_format() -> None:
    from oftsr_edge.train.model import UNetConfig

    config = CONFIGS["tiny"]
    assert "times" not in config.to_dict()  # a teacher's / OFTSR student's model JSON is what it always was
    assert UNetConfig.from_dict(config.to_dict()) == config
    assert not any(k.startswith("interval_mlp") for k in OFTSRUNet(config, 4).state_dict())
    with pytest.raises(ValueError, match="no start time"):
        OFTSRUNet(config, 4)(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), 0.5, r=0.0)


def test_two_time_model_shares_the_one_time_weights_and_starts_as_v_at_r() -> None:
    from dataclasses import replace

    from oftsr_edge.train.model import UNetConfig

    two = replace(CONFIGS["tiny"], times=2)
    assert two.to_dict()["times"] == 2 and UNetConfig.from_dict(two.to_dict()) == two
    with pytest.raises(ValueError):
        replace(CONFIGS["tiny"], times=3)
    torch.manual_seed(3)
    teacher = OFTSRUNet(CONFIGS["tiny"], 4)
    torch.manual_seed(3)
    student = OFTSRUNet(two, 4)
    shared = teacher.state_dict()
    for k, v in student.state_dict().items():  # the same seed draws the same shared weights
        if not k.startswith("interval_mlp"):
            assert torch.equal(v, shared[k]), k
    with torch.no_grad():  # a trained-looking teacher
        for p in teacher.parameters():
            p.add_(0.1 * torch.randn_like(p))
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("interval_mlp") for k in missing)
    x, x_lr = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    r, s = torch.tensor([0.2, 0.6]), torch.tensor([0.9, 0.6])
    with torch.no_grad():
        assert torch.allclose(student(x, x_lr, s, r), teacher(x, x_lr, r), atol=1e-6)  # u(x, r, s) = v_θ(x, r)
        assert torch.allclose(student(x, x_lr, s), student(x, x_lr, s, torch.zeros(2)))  # r defaults to 0
        for p in student.interval_mlp.parameters():
            p.add_(0.5 * torch.randn_like(p))
        assert (student(x, x_lr, s, r) - student(x, x_lr, r, r)).abs().max() > 1e-4  # now s − r matters
