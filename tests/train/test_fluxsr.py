"""FluxSR's TV-LPIPS and ADL against hand-computed values, and the PyTorch LPIPS against the numpy metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.fluxsr import FeatureTap, RealismTerms, adl, block_layers, tv_lpips, tv_map
from oftsr_edge.train.lpips_torch import LpipsLoss, load_lpips_loss, resolve_weights
from tests.metrics.test_lpips import _random_model, _weights_dir


def test_tv_map_by_hand() -> None:
    # y = [[0, 1, 1], [0, 0.5, 1]]: horizontal |Δ| = [[1, 0, 0], [0.5, 0.5, 0]], vertical |Δ| = [[0, 0.5, 0], 0]
    y = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.5, 1.0]]).reshape(1, 1, 2, 3)
    expected = 0.5 * torch.tensor([[1.0, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert torch.allclose(tv_map(y)[0, 0], expected)
    assert float(tv_map(torch.full((1, 3, 4, 4), 0.7)).abs().max()) == 0.0  # flat image: no variation
    checker = (torch.arange(16).reshape(4, 4) % 2 + torch.arange(4)[:, None]) % 2  # a 0/1 checkerboard
    assert float(tv_map(checker.float()[None, None]).max()) == 1.0  # the map stays in [0, 1]


def test_tv_lpips_by_hand_with_a_plain_distance() -> None:
    # distance = mean |a − b| per image; x̂ = [[0, 1]], x = [[0, 0]]: d(x̂, x) = 0.5; TV(x̂) = [[0.5, 0]], TV(x) = 0
    # → d(TV) = 0.25; TV-LPIPS = 0.5 + γ·0.25
    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))

    x_hat = torch.tensor([[0.0, 1.0]]).reshape(1, 1, 1, 2)
    x = torch.zeros_like(x_hat)
    assert tv_lpips(distance, x_hat, x).item() == pytest.approx(0.5 + 0.5 * 0.25)
    assert tv_lpips(distance, x_hat, x, gamma=2.0).item() == pytest.approx(0.5 + 2.0 * 0.25)
    assert tv_lpips(distance, x, x).item() == 0.0


def test_adl_by_hand() -> None:
    # two pixels (1, 0) and (0, 1): mean (0.5, 0.5), each cosine 0.5/(1·√0.5) = √0.5
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 1, 2)
    assert adl([h]).item() == pytest.approx(math.sqrt(0.5), rel=1e-6)
    same = torch.ones(2, 4, 3, 3)  # every pixel identical: similarity 1
    assert adl([same]).item() == pytest.approx(1.0, rel=1e-6)
    # opposite pixels (1, 0) and (−1, 0) plus (0, 2): mean (0, 2/3); cosines 0, 0, 1 → 1/3; averaged with a layer at 1
    g = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 2.0]]).reshape(1, 2, 1, 3)
    assert adl([g, same]).item() == pytest.approx((1 / 3 + 1.0) / 2, rel=1e-5)


def test_torch_lpips_equals_the_numpy_metric_on_random_weights() -> None:
    weights = _random_model(seed=2)
    loss = LpipsLoss(weights)
    rng = np.random.default_rng(0)
    a = rng.random((2, 70, 64, 3), dtype=np.float32)
    b = rng.random((2, 70, 64, 3), dtype=np.float32)
    got = loss(torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2))
    expected = [weights.distance(a[i], b[i]) for i in range(2)]
    assert got.tolist() == pytest.approx(expected, rel=1e-4)
    assert not any(p.requires_grad for p in loss.parameters())


def test_lpips_weights_are_never_guessed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.delenv("OFTSR_LPIPS_WEIGHTS", raising=False)
    with pytest.raises(OftsrError, match="needs LPIPS weights"):
        resolve_weights(None)
    with pytest.raises(OftsrError, match="no LPIPS AlexNet weights"):
        load_lpips_loss(tmp_path)
    monkeypatch.setenv("OFTSR_LPIPS_WEIGHTS", str(tmp_path))
    assert resolve_weights(None) == tmp_path


@pytest.mark.opt_in("lpips-weights")
def test_torch_lpips_with_the_real_weights() -> None:
    from oftsr_edge.metrics.lpips import load_lpips

    where = _weights_dir()
    loss, numpy_lpips = load_lpips_loss(where), load_lpips(where)
    rng = np.random.default_rng(1)
    a = rng.random((48, 40, 3), dtype=np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape, dtype=np.float32), 0, 1)
    ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None].requires_grad_(True) for x in (a, b))
    got = loss(ta, tb)
    assert got.item() == pytest.approx(numpy_lpips.distance(a, b), rel=1e-4)
    got.sum().backward()
    assert ta.grad is not None and float(ta.grad.abs().sum()) > 0  # usable as a training loss


def test_realism_terms_on_a_tiny_student() -> None:
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    torch.manual_seed(0)
    net = OFTSRUNet(CONFIGS["tiny"], 4)
    layers = block_layers(net)
    assert list(layers) == ["down0.0", "down1.0", "up0.0"]  # every FiLM block, encoder then decoder
    tap = FeatureTap(layers)

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).mean(dim=(1, 2, 3))

    terms = RealismTerms(lambda_lpips=2.0, lambda_adl=0.5, lpips=distance, tap=tap)
    x0, x1 = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    total, logs = terms(net, x0, x1, x0)
    with tap.capture() as feats:
        hr = x0 + net(x0, x0, torch.ones(2))
    expected_tv = tv_lpips(distance, (hr + 1) / 2, (x1 + 1) / 2, 0.5).item()
    assert logs["tv_lpips"] == pytest.approx(expected_tv, rel=1e-5)
    assert logs["adl"] == pytest.approx(adl(feats).item(), rel=1e-5) and len(feats) == 3
    assert total.item() == pytest.approx(2.0 * expected_tv + 0.5 * logs["adl"], rel=1e-5)
    total.backward()
    assert net.conv_in.weight.grad is not None
    net(x0, x0, torch.ones(2))
    assert tap.outputs == feats and len(tap.outputs) == 3  # outside capture() nothing more is recorded
    with pytest.raises(ValueError):
        RealismTerms(lambda_lpips=1.0, lambda_adl=0.0)


def test_spread_realism_terms_act_at_drawn_t_weighted_by_t() -> None:
    """With spread, each image is scored at its own t ~ U[0, 1] and weighted by it (t = 0 costs nothing)."""
    seen: list[torch.Tensor] = []

    def forward(x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(t)
        return t.reshape(-1, 1, 1, 1) * torch.ones_like(x)

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))

    x0 = torch.zeros(4, 3, 8, 8)
    x1 = torch.full((4, 3, 8, 8), 0.5)
    terms = RealismTerms(lambda_lpips=0.0, lambda_adl=0.0, lambda_l1=1.0, lpips=distance, spread=True)
    total, logs = terms(forward, x0, x1, x0, torch.Generator().manual_seed(3))
    t = seen[0]
    assert t.shape == (4,) and float(t.min()) >= 0 and float(t.max()) < 1 and len(set(t.tolist())) == 4
    assert total.item() == pytest.approx(float((t * (t - 0.5).abs()).mean()), rel=1e-6)
    _, at_one = RealismTerms(lambda_lpips=0.0, lambda_adl=0.0, lambda_l1=1.0)(forward, x0, x1, x0)
    assert bool((seen[1] == 1).all()) and at_one["l1_t1"] == pytest.approx(0.5)


def test_lpips_target_replaces_the_target_of_tv_lpips_only() -> None:
    """With a photo beside a peer's output, TV-LPIPS compares with the photo and ℓ1 still with the peer's output."""

    def forward(x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))

    x0 = torch.zeros(2, 3, 8, 8)
    peer, photo = torch.full_like(x0, 0.5), torch.full_like(x0, -0.5)
    terms = RealismTerms(lambda_lpips=1.0, lambda_adl=0.0, lambda_l1=1.0, lpips=distance)
    _, to_peer = terms(forward, x0, peer, x0)
    _, to_photo = terms(forward, x0, peer, x0, lpips_target=photo)
    assert to_peer["l1_t1"] == to_photo["l1_t1"] == pytest.approx(0.5)
    assert to_peer["tv_lpips"] == pytest.approx(0.25) and to_photo["tv_lpips"] == pytest.approx(0.25)
    brighter = torch.full_like(x0, 0.9)
    _, to_brighter = terms(forward, x0, peer, x0, lpips_target=brighter)
    assert to_brighter["tv_lpips"] == pytest.approx(0.45) and to_brighter["l1_t1"] == pytest.approx(0.5)
