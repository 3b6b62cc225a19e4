"""Builders for the tiny models the tests share."""

from __future__ import annotations

from pathlib import Path


def make_tiny_student(out_dir: Path, train_images: Path) -> Path:
    """Make a tiny x4 student run dir.

    TEMPORARY until the trainer lands: a randomly initialised tiny student whose zero-initialised output layers are
    perturbed, so ``t`` and the noise matter. It will be replaced by a real few-step teacher + distillation run.
    """
    import torch

    from oftsr_edge.train.checkpoint import save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    torch.manual_seed(0)
    model = OFTSRUNet(CONFIGS["tiny"], 4)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    config = {"kind": "student", "scale": 4, "sigma_p": 0.2, "model": CONFIGS["tiny"].to_dict(),
              "degradation": "bicubic", "name": "oftsr-tiny-x4"}
    save_checkpoint(out_dir, config, 1, model, model)
    return out_dir
