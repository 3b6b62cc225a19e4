"""The adversarial realism term (train/adversarial.py): D learns, the student's term trains the student only, and a
distillation with it resumes exactly (D travels in the checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.adversarial import AdversarialTerm, PatchDiscriminator
from oftsr_edge.train.fluxsr import RealismTerms
from tests.helpers.cli import run_main

SMALL = ["--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet",
         "--ckpt-every", "2", "--lambda-gan", "0.1"]


@pytest.fixture(scope="module")
def teacher(tiny_student_dir: Path) -> Path:
    return tiny_student_dir.parent / "teacher"


def test_discriminator_maps_patches_to_logits() -> None:
    d = PatchDiscriminator(8)
    assert d(torch.zeros(2, 3, 32, 48)).shape == (2, 1, 8, 12)


def test_discriminator_learns_to_tell_smooth_photos_from_noise() -> None:
    """A few D steps separate smooth 'photos' from noisy 'outputs': the student's term then rises for noise."""
    term = AdversarialTerm(channels=8, lr=2e-3, seed=0)
    gen = torch.Generator().manual_seed(0)
    smooth = F.interpolate(torch.rand(8, 3, 8, 8, generator=gen) * 2 - 1, size=32, mode="bilinear")
    noisy = smooth + 0.5 * torch.randn(smooth.shape, generator=gen)
    losses = [term.discriminator_step(smooth, noisy) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert float(term.generator_loss(noisy)) > float(term.generator_loss(smooth)) + 0.5


def test_the_students_term_trains_the_student_not_d() -> None:
    term = AdversarialTerm(channels=8, seed=1)
    x = torch.zeros(2, 3, 16, 16, requires_grad=True)
    weights = torch.tensor([0.0, 1.0])
    loss = term.generator_loss(x, weights)
    loss.backward()
    assert x.grad is not None and float(x.grad[1].abs().sum()) > 0 and float(x.grad[0].abs().sum()) == 0
    assert all(p.grad is None for p in term.discriminator.parameters())


def test_realism_terms_step_d_before_the_students_loss() -> None:
    """D's step runs on the detached output first, so the student's backward meets no weight changed in place."""
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    torch.manual_seed(0)
    net = OFTSRUNet(CONFIGS["tiny"], 4)
    term = AdversarialTerm(channels=8, seed=0)
    before = [p.detach().clone() for p in term.discriminator.parameters()]
    terms = RealismTerms(lambda_lpips=0.0, lambda_adl=0.0, lambda_gan=0.5, adversarial=term)
    x0, x1 = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    total, logs = terms(net, x0, x1, x0)
    assert set(logs) == {"gan", "d_loss"} and total.item() == pytest.approx(0.5 * logs["gan"], rel=1e-6)
    total.backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, term.discriminator.parameters()))
    with pytest.raises(ValueError, match="AdversarialTerm"):
        RealismTerms(lambda_lpips=0.0, lambda_adl=0.0, lambda_gan=0.5)


def test_distill_with_the_adversarial_term_resumes_exactly(tmp_path: Path, teacher: Path, train_images: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from oftsr_edge.train.checkpoint import load_checkpoint

    run, straight = tmp_path / "gan", tmp_path / "gan4"
    for out, steps, more in ((run, "2", ()), (straight, "4", ()), (run, "4", ("--resume",))):
        proc = run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(train_images), "--output",
                        str(out), "--steps", steps, *SMALL, *more)
        assert proc.code == 0, proc.err
    a, b = load_checkpoint(run, resumable=True), load_checkpoint(straight, resumable=True)
    assert all(torch.equal(a.model_state[k], b.model_state[k]) for k in a.model_state)
    d_a, d_b = (c.trainer_state["objective"]["adversarial"]["discriminator"] for c in (a, b))
    assert d_a.keys() == d_b.keys() and all(torch.equal(d_a[k], d_b[k]) for k in d_a)
    realism = a.config["distill"]["realism"]
    assert realism["lambda_gan"] == 0.1 and realism["adversarial"]["channels"] == 32
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert {"gan", "d_loss"} <= set(last)


def test_the_adversarial_term_refuses_several_processes() -> None:
    from oftsr_edge.train.distill import RealismOptions, _realism_terms

    with pytest.raises(OftsrError, match="without torchrun"):
        _realism_terms(RealismOptions(lambda_gan=0.1), distributed=True)


def test_a_loaded_d_keeps_its_moments_and_takes_this_runs_rate() -> None:
    """Resuming with another D rate (a changed default) uses the new rate, as the student's groups do."""
    old = AdversarialTerm(lr=1e-4)
    old.discriminator_step(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    new = AdversarialTerm(lr=4e-4)
    new.load_state_dict(old.state_dict())
    assert [g["lr"] for g in new.optimizer.param_groups] == [4e-4]
    moments = [s["exp_avg"] for s in new.optimizer.state.values()]
    assert moments and all(torch.equal(a, b["exp_avg"]) for a, b in zip(moments, old.optimizer.state.values()))
