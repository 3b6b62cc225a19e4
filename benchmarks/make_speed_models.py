"""Make the two exported models that benchmarks/README.md measured, for speed only (needs the [train,export] extras).

- ``tiny_fp32.onnx``: the test suite's tiny student (tests/helpers/tiny_models.py: UNet config "tiny", 20.7 k
  parameters, random weights perturbed), exported with tile 32 — what CI benchmarks.
- ``small_fp32.onnx``: UNet config "small" (channels 48/96/128, 1.06 M parameters) with its random initial weights,
  exported with tile 128 — the size class of an edge student. Random weights: its speed is real, its output is not.

Usage: ``python benchmarks/make_speed_models.py OUT_DIR`` (run from the repository root).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path


def main(out_dir: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.helpers
    import torch

    from oftsr_edge.export.onnx_export import export_onnx
    from oftsr_edge.train.checkpoint import checkpoint_config, save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet
    from tests.helpers.tiny_models import make_tiny_student

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    tiny = make_tiny_student(out / "tiny_student", Path("../shared/data/train/McMaster18"))
    print(export_onnx(tiny, out / "tiny_fp32.onnx", opset=18, tile=32))
    torch.manual_seed(0)
    net = OFTSRUNet(CONFIGS["small"], 4)
    config = checkpoint_config("student", CONFIGS["small"], 4, 0.2, "oftsr-small-x4-random")
    save_checkpoint(out / "small_student", config, 1, net, net)
    print(export_onnx(out / "small_student", out / "small_fp32.onnx", opset=18, tile=128))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
