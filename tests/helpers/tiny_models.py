"""Builders for the tiny models the tests share."""

from __future__ import annotations

from pathlib import Path


def make_tiny_student(out_dir: Path, train_images: Path) -> Path:
    """A tiny x4 student run dir: a tiny teacher trained 30 steps on real photos, distilled 10 steps (seconds)."""
    import torch

    from oftsr_edge.train.distill import build_distill_trainer
    from oftsr_edge.train.teacher import build_teacher_trainer
    from oftsr_edge.train.trainer import TrainSettings

    torch.manual_seed(0)
    teacher_dir, student_dir = out_dir / "teacher", out_dir / "student"
    settings = TrainSettings(steps=30, batch_size=4, crop_size=64, lr=2e-3, warmup=5, val_every=0, ckpt_every=30)
    build_teacher_trainer(train_images, teacher_dir, "tiny", 4, settings=settings, quiet=True).fit()
    settings = TrainSettings(steps=10, batch_size=4, crop_size=64, lr=5e-4, warmup=2, val_every=0, ckpt_every=10)
    build_distill_trainer(teacher_dir, train_images, student_dir, settings=settings, quiet=True).fit()
    return student_dir


def make_tiny_meanflow(out_dir: Path, teacher_dir: Path, train_images: Path) -> Path:
    """A tiny two-time (MeanFlow) student run dir: the tiny teacher distilled 6 MeanFlow steps (seconds)."""
    import torch

    from oftsr_edge.train.distill import build_distill_trainer
    from oftsr_edge.train.trainer import TrainSettings

    torch.manual_seed(0)
    student_dir = out_dir / "student"
    settings = TrainSettings(steps=6, batch_size=2, crop_size=32, lr=5e-4, warmup=1, val_every=0, ckpt_every=6)
    build_distill_trainer(teacher_dir, train_images, student_dir, settings=settings, quiet=True,
                          method="meanflow").fit()  # fmt: skip
    return student_dir
