"""The pretrained-base path: SMFANet as x_lr := R(LR), --pretrained loading, trunk-only warm starts, export.

CI has no published weights, so every test uses a tiny randomly initialised SMFANet of the same architecture; the
real weights are checked by the opt-in benchmark test at the end (Set5 PSNR-Y with the shared data).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from oftsr_edge.train.model import CONFIGS, OFTSRUNet, describe
from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet, load_pretrained
from tests.helpers.cli import assert_one_line_error, run_main


def _tiny_state(path: Path, seed: int = 0, variant: str = "smfanet-tiny") -> Path:
    torch.manual_seed(seed)
    torch.save({"params": SMFANet(SMFANET_VARIANTS[variant]).state_dict()}, path)
    return path


def test_pool_form_equals_the_adaptive_pool_of_the_reference_on_multiples_of_8() -> None:
    torch.manual_seed(0)
    net = SMFANet(SMFANET_VARIANTS["smfanet-tiny"]).eval()
    x = torch.randn(2, 8, 24, 16)
    assert torch.equal(F.max_pool2d(x, 8, 8), F.adaptive_max_pool2d(x, (3, 2)))
    with torch.no_grad():
        out = net(torch.rand(1, 3, 16, 24))
    assert out.shape == (1, 3, 64, 96)


def test_load_pretrained_reads_params_key_and_refuses_another_variant(tmp_path: Path) -> None:
    path = _tiny_state(tmp_path / "tiny.pth")
    net = SMFANet(SMFANET_VARIANTS["smfanet-tiny"])
    load_pretrained(net, path)
    saved = torch.load(path, weights_only=True)["params"]
    assert all(torch.equal(net.state_dict()[k], v) for k, v in saved.items())
    from oftsr_edge.errors import OftsrError

    with pytest.raises(OftsrError, match="not an SMFANet dim=36 blocks=8"):
        load_pretrained(SMFANet(SMFANET_VARIANTS["smfanet"]), path)
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(OftsrError, match="not a readable PyTorch state dict"):
        load_pretrained(net, tmp_path / "junk.pth")


def test_base_network_is_frozen_and_counted_in_the_cost() -> None:
    net = OFTSRUNet(CONFIGS["tiny-smfanet"], 4)
    assert all(not p.requires_grad for p in net.base.parameters())
    assert any(p.requires_grad for p in net.conv_out.parameters())
    plain = describe(CONFIGS["tiny"])
    based = describe(CONFIGS["tiny-smfanet"])
    assert based["multiple_of"] == 8 and plain["multiple_of"] == 2
    assert describe(CONFIGS["flat48x4-smfanet-plus"])["gflops_per_output_mp"] == pytest.approx(85.33, abs=0.01)
    # a bicubic model's state dict has no base or bicubic entries: old checkpoints load as before
    assert not any(k.startswith(("base.", "bicubic.")) for k in OFTSRUNet(CONFIGS["tiny"], 4).state_dict())


def test_untrained_model_on_a_base_outputs_the_base_image_at_every_t(tmp_path: Path) -> None:
    from oftsr_edge.train.onestep import OneStepSR, upscale_reference
    from oftsr_edge.train.teacher import load_base

    net = OFTSRUNet(CONFIGS["tiny-smfanet"], 4)
    load_base(net, _tiny_state(tmp_path / "tiny.pth"))
    lr = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        base = net.base(lr).clamp(0, 1)
        for t in (0.0, 0.5, 1.0):
            out = upscale_reference(OneStepSR(net, 0.2), lr, t)
            assert torch.allclose(out, base, atol=1e-5), t


def test_trunk_only_warm_start_keeps_output_layers_at_their_start(tmp_path: Path, train_images: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A bicubic run lends its trunk to a base model; conv_out and the skip stay at start, so step 0 is R."""
    plain = tmp_path / "plain"
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(plain), "--config", "tiny",
                    "--steps", "2", "--ckpt-every", "2", "--batch-size", "2", "--crop", "32", "--warmup", "1",
                    "--val-every", "0", "--threads", "1", "--quiet", "--learning-rate", "1e-2")
    assert proc.code == 0, proc.err
    pretrained = _tiny_state(tmp_path / "tiny.pth")
    # the tiny bicubic net (8, 16 channels) shares conv_in's shape only with a same-width base model
    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.teacher import load_base, warm_start

    net = OFTSRUNet(CONFIGS["tiny-smfanet"], 4)
    record = warm_start(net, plain, 4)
    load_base(net, pretrained)
    source = load_checkpoint(plain).ema_state
    assert record["trunk_only"] and record["tensors"] > 0
    assert torch.equal(net.state_dict()["conv_in.weight"], source["conv_in.weight"])
    assert not net.conv_out.weight.any() and not net.skip_film.weight.any()


def test_train_with_pretrained_then_distill_and_export_runs_in_onnx_runtime(
        tmp_path: Path, train_images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pretrained = _tiny_state(tmp_path / "tiny.pth")
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    common = ["--batch-size", "2", "--crop", "64", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet",
              "--steps", "2", "--ckpt-every", "2"]
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(teacher), "--config",
                    "tiny-smfanet", "--pretrained", str(pretrained), *common)
    assert proc.code == 0, proc.err
    config = json.loads((teacher / "config.json").read_text())
    assert config["pretrained"]["architecture"] == "smfanet-tiny" and config["model"]["base"] == "smfanet-tiny"
    proc = run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(train_images), "--output",
                    str(student), "--name", "tiny-on-smfanet", *common)
    assert proc.code == 0, proc.err
    out = tmp_path / "exported"
    proc = run_main(capsys, "export", str(student), "-o", str(out), "--precision", "fp32")
    assert proc.code == 0, proc.err
    onnx_file = next(out.glob("*_fp32.onnx"))
    from oftsr_edge import Upscaler

    lr = (np.random.default_rng(0).random((20, 28, 3)) * 255).astype(np.uint8)  # not a multiple of 8: padded
    with Upscaler(str(onnx_file)) as up:
        hr = up.upscale(lr, t=0.0, seed=0)
    assert hr.shape == (80, 112, 3)
    # the exported graph (R inside it) computes the PyTorch reference, up to float rounding
    from oftsr_edge.export.verify import verify_against_torch

    deviations = verify_against_torch(onnx_file, student)
    assert max(d.max_abs for d in deviations) <= 1e-4, deviations
    # INT8 keeps the base float: every conv that never sees the noise is excluded from quantisation
    import onnx

    from oftsr_edge.export.fp16 import input_dependencies
    from oftsr_edge.export.int8 import int8_exclusions

    graph = onnx.load(str(onnx_file))
    # the base is traced in its inference form (smfanet_inference.py): no ReduceL2 over channels
    assert "ReduceL2" not in {n.op_type for n in graph.graph.node}
    excluded = set(int8_exclusions(graph))
    deps = input_dependencies(graph)
    base_convs = [n.name for n in graph.graph.node if n.op_type == "Conv" and "noise" not in deps[n.name]]
    assert len(base_convs) >= 8 and set(base_convs) <= excluded
    assert any(n.op_type == "Conv" and n.name not in excluded for n in graph.graph.node)


def test_pretrained_errors_are_one_line(tmp_path: Path, train_images: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--data", str(train_images), "--steps", "1", "--batch-size", "2", "--crop", "64", "--quiet",
            "--val-every", "0"]
    proc = run_main(capsys, *base, "--output", str(tmp_path / "a"), "--config", "tiny-smfanet")
    assert_one_line_error(proc, "pass --pretrained PATH")
    proc = run_main(capsys, *base, "--output", str(tmp_path / "b"), "--config", "tiny", "--pretrained",
                    str(_tiny_state(tmp_path / "t.pth")))
    assert_one_line_error(proc, "upsamples with bicubic")
    proc = run_main(capsys, *base, "--output", str(tmp_path / "c"), "--config", "tiny-smfanet", "--pretrained",
                    str(tmp_path / "missing.pth"))
    assert_one_line_error(proc, "no such file")


def test_train_base_fine_tunes_the_base_and_the_student_keeps_it_frozen(tmp_path: Path, train_images: Path) -> None:
    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.teacher import build_teacher_trainer
    from oftsr_edge.train.trainer import TrainSettings

    pretrained = _tiny_state(tmp_path / "tiny.pth")
    settings = TrainSettings(steps=2, batch_size=2, crop_size=64, lr=1e-2, warmup=0, val_every=0, ckpt_every=2)
    runs = {}
    for flag in (False, True):
        out = tmp_path / f"teacher-{flag}"
        build_teacher_trainer(train_images, out, "tiny-smfanet", 4, settings=settings, quiet=True,
                              t_zero_fraction=0.5, pretrained=pretrained, train_base=flag).fit()
        runs[flag] = load_checkpoint(out)
    start = torch.load(pretrained, weights_only=True)["params"]["to_feat.weight"]
    assert torch.equal(runs[False].model_state["base.to_feat.weight"], start)
    assert not torch.equal(runs[True].model_state["base.to_feat.weight"], start)
    assert runs[True].config["train_base"] is True
    student = runs[True].build_model("ema")
    assert not student.base_trainable


def test_film_base_network_starts_as_the_base_at_every_t_and_trains_the_base(tmp_path: Path) -> None:
    """The film-base config: SMFANet itself with the state and t-FiLM added at zero (train/film_base.py)."""
    from oftsr_edge.train.onestep import OneStepSR, upscale_reference
    from oftsr_edge.train.teacher import load_base

    net = OFTSRUNet(CONFIGS["tiny-smfanet-film"], 4)
    load_base(net, _tiny_state(tmp_path / "tiny.pth", seed=3))
    assert net.base_trainable and net.conv_in is None and len(net.down_blocks) == 0
    lr = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        base = net.base(lr).clamp(0, 1)
        for t in (0.0, 0.5, 1.0):
            assert torch.allclose(upscale_reference(OneStepSR(net, 0.2), lr, t), base, atol=1e-5), t
    # x_lr is the nearest upsample: it carries the LR image exactly
    x_lr = F.pixel_shuffle(net.condition(lr * 2 - 1), 4)
    assert torch.equal(x_lr, F.interpolate(lr * 2 - 1, scale_factor=4, mode="nearest"))
    # once t-FiLM moves, the output depends on t
    with torch.no_grad():
        net.film.films[0].weight.normal_()
        outs = [upscale_reference(OneStepSR(net, 0.2), lr, t) for t in (0.0, 1.0)]
    assert not torch.allclose(outs[0], outs[1])
    # SMFANet+'s cost plus one 3×3 conv from the state
    plus = describe(CONFIGS["smfanet-plus-film"])
    assert plus["gflops_per_output_mp"] == pytest.approx(59.41, abs=0.01) and plus["multiple_of"] == 8
    with pytest.raises(ValueError, match="film-base config needs"):
        from oftsr_edge.train.model import UNetConfig

        UNetConfig("bad", channels=(16,), blocks=1, emb_dim=16, base="smfanet-tiny", film_base=True)


def test_film_base_trains_distils_and_exports(tmp_path: Path, train_images: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pretrained = _tiny_state(tmp_path / "tiny.pth")
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    common = ["--batch-size", "2", "--crop", "64", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet",
              "--steps", "2", "--ckpt-every", "2", "--learning-rate", "1e-2"]
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(teacher), "--config",
                    "tiny-smfanet-film", "--pretrained", str(pretrained), *common)
    assert proc.code == 0, proc.err
    from oftsr_edge.train.checkpoint import load_checkpoint

    trained = load_checkpoint(teacher)
    assert trained.config["model"]["film_base"] is True
    start = torch.load(pretrained, weights_only=True)["params"]["to_feat.weight"]
    assert not torch.equal(trained.model_state["base.to_feat.weight"], start)  # the base itself trains
    proc = run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(train_images), "--output",
                    str(student), "--name", "tiny-film", *common)
    assert proc.code == 0, proc.err
    distilled = load_checkpoint(student)
    assert not torch.equal(distilled.model_state["base.to_feat.weight"], trained.ema_state["base.to_feat.weight"])
    out = tmp_path / "exported"
    proc = run_main(capsys, "export", str(student), "-o", str(out), "--precision", "fp32")
    assert proc.code == 0, proc.err
    from oftsr_edge.export.verify import verify_against_torch

    deviations = verify_against_torch(next(out.glob("*_fp32.onnx")), student)
    assert max(d.max_abs for d in deviations) <= 1e-4, deviations
    # a deeper student grown from the distilled one: a new run that starts as exactly that student
    deeper = tmp_path / "deeper"
    args = ["distill", "--teacher", str(teacher), "--data", str(train_images), "--output", str(deeper),
            "--init-from", str(student), *common]
    proc = run_main(capsys, *args, "--config", "tiny")
    assert_one_line_error(proc, "--config tiny: a one-step student starts as the network it is initialised from")
    proc = run_main(capsys, *args, "--config", "tiny-smfanet-2-film")
    assert proc.code == 0, proc.err
    grown = load_checkpoint(deeper)
    start = grown.config["student_init"]
    assert start["blocks_added"] == 1 and start["step"] == 2 and start["config"] == "tiny-smfanet-2-film"
    assert grown.model_config.name == "tiny-smfanet-2-film" and len(grown.build_model().base.feats) == 2
    # resuming reads the run's own checkpoint, not the source again (which may have moved on, or be gone)
    student.rename(tmp_path / "student-moved")
    resumed = [a if a != "2" or args[i - 1] != "--steps" else "4" for i, a in enumerate(args)]
    proc = run_main(capsys, *resumed, "--config", "tiny-smfanet-2-film", "--resume")
    assert proc.code == 0, proc.err
    assert load_checkpoint(deeper).step == 4 and load_checkpoint(deeper).config["student_init"] == start
    student = tmp_path / "student-moved"
    proc = run_main(capsys, "export", str(deeper), "-o", str(tmp_path / "deeper-onnx"), "--precision", "fp32")
    assert proc.code == 0, proc.err
    deviations = verify_against_torch(next((tmp_path / "deeper-onnx").glob("*_fp32.onnx")), deeper)
    assert max(d.max_abs for d in deviations) <= 1e-4, deviations


def test_a_deepened_film_base_network_computes_what_its_source_did() -> None:
    from oftsr_edge.train.film_base import load_deepened

    torch.manual_seed(0)
    small, big = OFTSRUNet(CONFIGS["tiny-smfanet-film"], 4), OFTSRUNet(CONFIGS["tiny-smfanet-2-film"], 4)
    for param in (*small.parameters(), *big.parameters()):
        param.data.normal_(0, 0.1)  # FiLM and the state conv away from their zero start, the extra block random
    assert load_deepened(big, small.state_dict()) == 1
    x, x_lr, t = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), torch.tensor([0.0, 0.7])
    with torch.no_grad():
        torch.testing.assert_close(big(x, x_lr, t), small(x, x_lr, t))
    with pytest.raises(ValueError, match="2 blocks into 1"):
        load_deepened(small, big.state_dict())
    with pytest.raises(ValueError, match="film-base network"):
        load_deepened(OFTSRUNet(CONFIGS["tiny"], 4), small.state_dict())
    plus, grown = describe(CONFIGS["smfanet-plus-film"]), describe(CONFIGS["smfanet-plus-18-film"])
    assert grown["params"] > plus["params"] and grown["gflops_per_output_mp"] < 1.5 * plus["gflops_per_output_mp"]


def test_fidelity_teacher_is_eq11s_target(tmp_path: Path, train_images: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """distill --fidelity-teacher: a pretrained regressor's image is the t = 0 target (ablation (c) of §4)."""
    from oftsr_edge.train.losses import distillation_losses

    x0, x_lr = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    target = torch.randn(2, 3, 8, 8)

    def student(x: torch.Tensor, xl: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * x

    def teacher(x: torch.Tensor, xl: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return xl - x

    t = torch.full((2,), 0.3)
    losses = distillation_losses(student, teacher, x0, x_lr, t, v0_target=target)
    assert torch.allclose(losses.bc, ((0.5 * x0 - target) ** 2).mean())
    plain = distillation_losses(student, teacher, x0, x_lr, t)
    assert torch.allclose(plain.bc, ((0.5 * x0 - (x_lr - x0)) ** 2).mean())
    assert torch.allclose(losses.distill, plain.distill)

    flow = tmp_path / "teacher"
    common = ["--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet",
              "--steps", "2", "--ckpt-every", "2"]
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(flow), "--config", "tiny", *common)
    assert proc.code == 0, proc.err
    regressor = _tiny_state(tmp_path / "tiny.pth")
    distill = ["distill", "--teacher", str(flow), "--data", str(train_images), "--fidelity-teacher", str(regressor)]
    proc = run_main(capsys, *distill, "--output", str(tmp_path / "s"), "--lambda-bc", "1.0", *common)
    assert proc.code == 0, proc.err
    record = json.loads((tmp_path / "s" / "config.json").read_text())["distill"]["fidelity_teacher"]
    assert record["architecture"] == "smfanet-tiny" and len(record["sha256"]) == 64
    proc = run_main(capsys, *distill, "--output", str(tmp_path / "m"), "--method", "meanflow", *common)
    assert_one_line_error(proc, "needs --method oftsr")
    bad_crop = [*common[:2], "--crop", "40", *common[4:]]
    proc = run_main(capsys, *distill, "--output", str(tmp_path / "c"), *bad_crop)
    assert_one_line_error(proc, "multiples of 8")
    torch.save({"params": {"to_feat.weight": torch.zeros(5, 3, 3, 3)}}, tmp_path / "odd.pth")
    proc = run_main(capsys, "distill", "--teacher", str(flow), "--data", str(train_images), "--fidelity-teacher",
                    str(tmp_path / "odd.pth"), "--output", str(tmp_path / "o"), *common)
    assert_one_line_error(proc, "not a state dict of a known SMFANet variant")


class _Halving(torch.nn.Module):
    def forward(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


def test_fidelity_target_photo_makes_the_hr_crop_eq11s_target(tmp_path: Path, train_images: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """distill --fidelity-target photo: the t = 0 end regresses the HR crop, so it is not capped at the teacher's."""
    from oftsr_edge.train.distill import DistillObjective
    from oftsr_edge.train.trainer import Batch

    gen = torch.Generator().manual_seed(0)
    x1, x_lr, x0 = (torch.randn(2, 3, 8, 8, generator=gen) for _ in range(3))
    batch = Batch(x1=x1, x_lr=x_lr, x0=x0, generator=torch.Generator().manual_seed(1))
    objective = DistillObjective(_Halving(), 0.05, "euler", 0.01, 1.0)
    _, plain = objective(_Halving(), batch)
    objective.photo_fidelity = True
    _, photo = objective(_Halving(), Batch(x1=x1, x_lr=x_lr, x0=x0, generator=torch.Generator().manual_seed(1)))
    assert plain["bc"] == pytest.approx(0.0)  # student and teacher agree at t = 0
    assert photo["bc"] == pytest.approx(float(((0.5 * x0 - (x1 - x0)) ** 2).mean()), rel=1e-6)
    assert photo["distill"] == pytest.approx(plain["distill"])

    flow = tmp_path / "teacher"
    common = ["--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet",
              "--steps", "2", "--ckpt-every", "2"]
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(flow), "--config", "tiny", *common)
    assert proc.code == 0, proc.err
    distill = ["distill", "--teacher", str(flow), "--data", str(train_images), "--fidelity-target", "photo"]
    proc = run_main(capsys, *distill, "--output", str(tmp_path / "s"), "--lambda-bc", "1.0", *common)
    assert proc.code == 0, proc.err
    assert json.loads((tmp_path / "s" / "config.json").read_text())["distill"]["fidelity_target"] == "photo"
    for extra, message in ((["--method", "meanflow"], "needs --method oftsr"),
                           (["--lambda-bc", "0"], "--lambda-bc > 0"),
                           (["--fidelity-teacher", str(_tiny_state(tmp_path / "r.pth"))], "give one")):
        proc = run_main(capsys, *distill, "--output", str(tmp_path / "x"), *extra, *common)
        assert_one_line_error(proc, message)
        assert not (tmp_path / "x").exists()


def test_pretrained_may_be_a_run_whose_fine_tuned_base_starts_a_film_base_network(tmp_path: Path,
                                                                                    train_images: Path) -> None:
    from oftsr_edge.errors import OftsrError
    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.teacher import build_teacher_trainer, load_base
    from oftsr_edge.train.trainer import TrainSettings

    settings = TrainSettings(steps=2, batch_size=2, crop_size=64, lr=1e-2, warmup=0, val_every=0, ckpt_every=2)
    tuned = tmp_path / "tuned"
    build_teacher_trainer(train_images, tuned, "tiny-smfanet", 4, settings=settings, quiet=True,
                          pretrained=_tiny_state(tmp_path / "tiny.pth"), train_base=True).fit()
    net = OFTSRUNet(CONFIGS["tiny-smfanet-film"], 4)
    record = load_base(net, tuned)
    ema = load_checkpoint(tuned).ema_state
    assert all(torch.equal(v, ema[f"base.{k}"]) for k, v in net.base.state_dict().items())
    assert len(record["sha256"]) == 64 and record["path"] == str(tuned.resolve())
    plain = tmp_path / "plain"
    build_teacher_trainer(train_images, plain, "tiny", 4, settings=settings, quiet=True).fit()
    with pytest.raises(OftsrError, match="has no pretrained base"):
        load_base(OFTSRUNet(CONFIGS["tiny-smfanet-film"], 4), plain)


def test_base_learning_rate_trains_the_base_at_its_own_rate_and_resumes_with_it(
        tmp_path: Path, train_images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--base-learning-rate puts exactly the base's weights in a second Adam group at that rate (scheduled like
    the rest); a resumed run applies the command's rates and refuses to change the grouping."""
    pretrained = _tiny_state(tmp_path / "tiny.pth")
    run = tmp_path / "teacher"
    common = ["--data", str(train_images), "--output", str(run), "--config", "tiny-smfanet-film", "--pretrained",
              str(pretrained), "--batch-size", "2", "--crop", "64", "--warmup", "1", "--val-every", "0",
              "--threads", "1", "--quiet", "--ckpt-every", "2", "--learning-rate", "1e-2"]
    proc = run_main(capsys, "train", *common, "--steps", "2", "--base-learning-rate", "1e-3")
    assert proc.code == 0, proc.err
    from oftsr_edge.train.checkpoint import load_checkpoint

    saved = load_checkpoint(run, resumable=True)
    assert saved.config["train"]["base_lr"] == 1e-3
    groups = saved.trainer_state["optimizer"]["param_groups"]
    assert [g["initial_lr"] for g in groups] == [1e-2, 1e-3]

    from oftsr_edge.train.teacher import build_teacher_trainer
    from oftsr_edge.train.trainer import TrainSettings

    settings = TrainSettings(steps=4, batch_size=2, crop_size=64, lr=1e-2, base_lr=5e-4, warmup=1, val_every=0,
                             ckpt_every=2)
    capsys.readouterr()
    resumed = build_teacher_trainer(train_images, run, "tiny-smfanet-film", 4, settings=settings, resume=True,
                                    quiet=True, pretrained=str(pretrained))
    assert "learning rate 0.01, base 0.0005 (the checkpoint's was 0.01, base 0.001)" in capsys.readouterr().err
    base = {id(p) for name, p in resumed.model.named_parameters() if name.startswith("base.")}
    rest, base_group = resumed.optimizer.param_groups
    assert base and {id(p) for p in base_group["params"]} == base and not base & {id(p) for p in rest["params"]}
    factor = resumed.scheduler.lr_lambdas[0](resumed.step)
    assert [g["lr"] for g in resumed.optimizer.param_groups] == pytest.approx([1e-2 * factor, 5e-4 * factor])

    proc = run_main(capsys, "train", *common, "--steps", "4", "--resume")  # the grouping is the run's
    assert_one_line_error(proc, "was trained with --base-learning-rate")


def test_base_learning_rate_needs_a_trainable_base(tmp_path: Path, train_images: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(tmp_path / "r"), "--config",
                    "tiny-smfanet", "--pretrained", str(_tiny_state(tmp_path / "tiny.pth")), "--steps", "1",
                    "--batch-size", "1", "--crop", "64", "--threads", "1", "--quiet", "--base-learning-rate", "1e-5")
    assert_one_line_error(proc, "--base-learning-rate: this model has no trainable pretrained base")
