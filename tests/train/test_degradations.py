"""The Real-ESRGAN-style degradation: kernel shapes, family frequencies, the sinc's pass band, and the LR it makes."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from oftsr_edge.train import blur_kernels as bk  # noqa: E402
from oftsr_edge.train.degradations import FIRST_ORDER, degrade_realesrgan, get_degradation  # noqa: E402


def test_every_family_is_normalised_and_centred() -> None:
    kernels = [
        bk.gaussian(15, 2.0, 2.0, 0.0),
        bk.gaussian(15, 3.0, 1.0, 0.7),
        bk.gaussian(15, 2.0, 1.0, 0.3, beta=0.6),
        bk.plateau(15, 2.0, 1.5, 1.1, beta=1.5),
        bk.circular_lowpass(15, math.pi / 2),
    ]
    for k in kernels:
        assert k.shape == (15, 15) and k.dtype == np.float32
        assert k.sum() == pytest.approx(1.0, abs=1e-5)
        assert np.allclose(k, k[::-1, ::-1], atol=1e-7)  # point-symmetric: blur moves no content


def test_isotropic_gaussian_is_rotation_free_and_anisotropic_turns_with_theta() -> None:
    assert np.allclose(bk.gaussian(11, 1.5, 1.5, 0.0), bk.gaussian(11, 1.5, 1.5, 1.0), atol=1e-7)
    wide_x = bk.gaussian(11, 3.0, 0.8, 0.0)
    assert wide_x[5, 9] > wide_x[9, 5]  # spread along x
    assert np.allclose(bk.gaussian(11, 3.0, 0.8, math.pi / 2), wide_x.T, atol=1e-6)


def test_generalised_exponent_changes_the_tails() -> None:
    heavy, plain, flat = (bk.gaussian(21, 2.0, 2.0, 0.0, beta=b) for b in (0.5, 1.0, 3.0))
    assert heavy[10, 20] > plain[10, 20] > flat[10, 20]
    assert np.allclose(plain, bk.gaussian(21, 2.0, 2.0, 0.0), atol=0)


def test_plateau_is_flatter_at_the_centre_than_a_gaussian_of_the_same_sigma() -> None:
    p, g = bk.plateau(21, 2.0, 2.0, 0.0, beta=2.0), bk.gaussian(21, 2.0, 2.0, 0.0)
    assert p[10, 11] / p[10, 10] > g[10, 11] / g[10, 10]


def test_circular_lowpass_passes_below_and_stops_above_its_cutoff() -> None:
    k = bk.circular_lowpass(21, math.pi / 2)
    response = np.abs(np.fft.fft2(k, s=(256, 256)))
    freqs = np.fft.fftfreq(256) * 2 * math.pi  # rad/pixel
    along_x = response[0, : 128]
    assert along_x[0] == pytest.approx(1.0, abs=1e-5)
    assert along_x[freqs[:128] < 0.35 * math.pi].min() > 0.8
    assert along_x[freqs[:128] > 0.7 * math.pi].max() < 0.2
    # the centre value is the continuous limit: no spike or hole at r = 0
    assert k[10, 10] > k[10, 11] > 0


def test_family_frequencies_follow_the_configured_probabilities() -> None:
    rng = np.random.default_rng(3)
    ranges = bk.KernelRanges((0.2, 3.0), family_probs=(0, 1, 0, 0, 0, 0), sinc_prob=0.0)
    for _ in range(20):  # only anisotropic Gaussians: almost never symmetric under transposition
        k = bk.random_kernel(rng, ranges)
        assert k.shape[0] in bk.KERNEL_SIZES
    sincs = sum(_is_sinc(bk.random_kernel(rng, bk.KernelRanges((0.2, 3.0), sinc_prob=0.3))) for _ in range(400))
    assert 0.22 < sincs / 400 < 0.38


def _is_sinc(k: np.ndarray) -> bool:
    """A truncated sinc has negative lobes; none of the Gaussian-like families does."""
    return bool(k.min() < -1e-6)


def test_final_sinc_never_cuts_below_pi_over_3() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = bk.random_sinc(rng, size=21, final=True)
        response = np.abs(np.fft.fft2(k, s=(256, 256)))[0, :128]
        assert response[np.fft.fftfreq(256)[:128] * 2 * math.pi < 0.25 * math.pi].min() > 0.75


def test_realesrgan_degradation_makes_8bit_lr_of_the_exact_size_and_is_seeded() -> None:
    hr = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    a = degrade_realesrgan(hr, 4, np.random.default_rng(7))
    b = degrade_realesrgan(hr, 4, np.random.default_rng(7))
    c = degrade_realesrgan(hr, 4, np.random.default_rng(8))
    assert a.shape == (2, 3, 16, 12)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, torch.round(a * 255) / 255) and a.min() >= 0 and a.max() <= 1


def test_realesrgan_degradation_damages_more_than_bicubic() -> None:
    """A smooth gradient stays almost exact under bicubic; the real-world chain adds blur, noise and JPEG error."""
    ramp = torch.linspace(0, 1, 64)[None, None, None, :].expand(4, 3, 64, 64).contiguous()
    bicubic = get_degradation("bicubic")(ramp, 4, np.random.default_rng(0), 0.0)
    real = degrade_realesrgan(ramp, 4, np.random.default_rng(0))
    reference = torch.nn.functional.interpolate(ramp, size=(16, 16), mode="area")
    err_bicubic = (bicubic - reference).abs().mean().item()
    err_real = (real - reference).abs().mean().item()
    assert err_real > 3 * err_bicubic


def test_stage_ranges_are_real_esrgans_x4plus_values() -> None:
    """docs/degradations.md cites these; a change here must change the table there too."""
    assert FIRST_ORDER.resize_probs == (0.2, 0.7, 0.1) and FIRST_ORDER.resize_range == (0.15, 1.5)
    assert FIRST_ORDER.noise_sigma == (1, 30) and FIRST_ORDER.poisson_scale == (0.05, 3.0)
    assert FIRST_ORDER.kernel.family_probs == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


def test_realesrgan_mix_keeps_about_a_quarter_of_the_images_clean() -> None:
    """Image by image: a clean image equals the bicubic degradation of that image exactly; the rest are damaged."""
    from oftsr_edge.train.degradations import MIX_CLEAN_FRACTION, degrade_bicubic

    hr = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    mixed = get_degradation("realesrgan-mix")(hr, 4, np.random.default_rng(3), 0.0)
    clean = degrade_bicubic(hr, 4, np.random.default_rng(0))
    assert mixed.shape == clean.shape == (64, 3, 8, 8)
    is_clean = [torch.equal(m, c) for m, c in zip(mixed, clean, strict=True)]
    assert 0.1 < sum(is_clean) / len(is_clean) < 0.45 and MIX_CLEAN_FRACTION == 0.25
    again = get_degradation("realesrgan-mix")(hr, 4, np.random.default_rng(3), 0.0)
    assert torch.equal(mixed, again)


def test_every_training_degradation_is_offered_by_the_commands() -> None:
    """One vocabulary: train, degrade and eval offer oftsr_edge.pairs' names, which the pipeline implements."""
    from oftsr_edge.pairs import DEGRADATIONS as NAMES
    from oftsr_edge.train.degradations import DEGRADATIONS as TRAIN_NAMES

    assert tuple(TRAIN_NAMES) == NAMES
