"""The models we compare against, behind one small interface, so ``bench`` and ``eval`` treat them like ours.

- ``bicubic``: Pillow's BICUBIC resize (a = −0.5), the floor any SR model must beat; no tiling, no network.
- ``srvgg-compact`` and ``rrdbnet``: Real-ESRGAN's compact net and ESRGAN's RRDBNet re-implemented from their
  published shapes (:mod:`~oftsr_edge.evaluation.peer_nets`), exported to ONNX with *random weights*: speed only.
  Exporting needs torch + onnx (the [export] extra) once; the ONNX files are cached in the user cache dir
  (``$OFTSR_EDGE_CACHE/peers``, else ``$XDG_CACHE_HOME/oftsr-edge/peers``, else ``~/.cache/oftsr-edge/peers``),
  never in the repository, and later runs need neither torch nor onnx.
- trained ncnn peers (Real-ESRGAN, SRMD) when their optional packages are installed: see :mod:`ncnn_peers`.

Peers run on the same ONNX Runtime provider as our model and through the same :class:`Tiler` (same tile, overlap,
batch and blend), so a ratio compares the networks, not the plumbing. The tiler also draws the noise our model needs
(about 0.05 s per output megapixel on a 2-core CPU), which peers do not use: their per-image times include that
small cost; their per-tile times do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from oftsr_edge import contract, fileio
from oftsr_edge.errors import OftsrError
from oftsr_edge.extras import require

PEER_OPSET = 17
PEER_SCALE = 4
#: name -> (label, note); the note travels into every report row.
ONNX_PEERS: dict[str, tuple[str, str]] = {
    "srvgg-compact": ("SRVGGNetCompact 64×32 x4", "random weights, speed only"),
    "rrdbnet": ("RRDBNet 23×64/32 x4", "random weights, speed only"),
}
BICUBIC = "bicubic"
_CACHE_VERSION = 1  # bump when peer_nets changes shape or init, so stale cached files are not reused


def cache_dir() -> Path:
    """Where exported peer ONNX files live: a user cache, never the repository."""
    from oftsr_edge.fileio import cache_root

    return cache_root() / "peers"


def peer_onnx(name: str, directory: Path | None = None) -> Path:
    """Path of the cached ONNX export of peer ``name``, exporting it first if needed (torch + onnx required)."""
    if name not in ONNX_PEERS:
        raise OftsrError(f"unknown peer {name!r}: choose from {', '.join([BICUBIC, *ONNX_PEERS])}")
    folder = directory or cache_dir()
    path = folder / f"{name}-x{PEER_SCALE}-opset{PEER_OPSET}-v{_CACHE_VERSION}.onnx"
    if path.is_file():
        return path
    try:
        require("export", "torch", "onnx")
    except OftsrError as exc:
        raise OftsrError(
            f"peer {name} is not cached at {path} and exporting it once needs torch + onnx: {exc}"
        ) from None
    import warnings

    from oftsr_edge.evaluation import peer_nets

    with fileio.atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer_nets.export(name, str(tmp), opset=PEER_OPSET)
    return path


def ort_providers(backend_name: str) -> list[str]:
    """ONNX Runtime providers that match our backend's label ("ort-cpu", "ort-cuda", "ort-trt", "trt")."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    wanted = {
        "ort-cuda": ["CUDAExecutionProvider"],
        "ort-trt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
        "trt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
    }.get(backend_name, [])
    chosen = [p for p in wanted if p in available]
    if wanted and not chosen:
        raise OftsrError(
            f"peers cannot run like {backend_name}: ONNX Runtime here has only {', '.join(available)}"
        )
    return [*chosen, "CPUExecutionProvider"]


@dataclass
class Peer:
    """A comparison model: ``run(lr)`` on float32 NCHW tiles in [0, 1] → ×``scale``; ``upscale`` for whole images."""

    name: str
    label: str
    note: str
    scale: int = PEER_SCALE
    tiled: bool = True
    load_s: float = 0.0
    providers: list[str] = field(default_factory=list)

    def run(self, lr: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def tiler_run(self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The :class:`Tiler` contract; peers ignore the noise and t."""
        return self.run(lr)

    def upscale(self, image: np.ndarray, tile: int, overlap: int, batch: int) -> np.ndarray:
        """Whole (H, W, 3) uint8 image through the shared tiler with our tile geometry."""
        from oftsr_edge.runtime.tiling.tiler import Tiler

        tiler = Tiler(self.tiler_run, self.scale, multiple_of=1, tile=tile, overlap=overlap, batch=batch)
        return tiler.upscale(image, t=0.0, seed=0)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions (default: nothing)."""


class BicubicPeer(Peer):
    """Pillow BICUBIC: whole images in one resize (tiling would only add cost); tiles resized channel by channel."""

    def __init__(self, scale: int = PEER_SCALE) -> None:
        super().__init__(BICUBIC, f"bicubic x{scale} (Pillow)", "no network: the floor", scale, tiled=False)

    def run(self, lr: np.ndarray) -> np.ndarray:
        n, c, h, w = lr.shape
        out = np.empty((n, c, h * self.scale, w * self.scale), np.float32)
        for i in range(n):
            for k in range(c):
                plane = Image.fromarray(lr[i, k].astype(np.float32), mode="F")
                out[i, k] = np.asarray(plane.resize((w * self.scale, h * self.scale), Image.BICUBIC))
        return out

    def upscale(self, image: np.ndarray, tile: int = 0, overlap: int = 0, batch: int = 1) -> np.ndarray:
        return bicubic_upscale(image, self.scale)


def bicubic_upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Pillow BICUBIC ×``scale`` of an (H, W, C) uint8 image (the standard "bicubic" baseline row)."""
    h, w = image.shape[:2]
    pil = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    out = np.asarray(pil.resize((w * scale, h * scale), Image.BICUBIC))
    return out[..., None] if image.ndim == 3 and out.ndim == 2 else out


class OnnxPeer(Peer):
    """A peer ONNX graph (input ``lr``, output ``hr``) in an ONNX Runtime session."""

    def __init__(self, name: str, path: Path, providers: list[str]) -> None:
        import time

        from oftsr_edge.runtime.backends.onnxruntime import open_session

        label, note = ONNX_PEERS[name]
        super().__init__(name, label, note, PEER_SCALE, providers=providers)
        start = time.perf_counter()
        # the runtime's own session settings (threads, spinning, optimisation level): same plumbing as our model
        self.session = open_session(path, providers)
        self.load_s = time.perf_counter() - start

    def run(self, lr: np.ndarray) -> np.ndarray:
        # peers are exported with our contract's lr/hr names
        feed = {contract.INPUT_LR: np.ascontiguousarray(lr, np.float32)}
        return self.session.run([contract.OUTPUT_HR], feed)[0]

    def close(self) -> None:
        self.session = None


class NcnnPeer(Peer):
    """A trained ncnn net (:class:`~oftsr_edge.evaluation.ncnn_peers.NcnnNet`) behind the peer interface.

    Wrapping happens here so that :mod:`ncnn_peers` never imports this module (no import cycle).
    """

    def __init__(self, net: Any) -> None:
        super().__init__(net.name, net.label, net.note, net.scale, load_s=net.load_s, providers=["ncnn-cpu"])
        self.net = net

    def run(self, lr: np.ndarray) -> np.ndarray:
        return self.net.run(lr)

    def close(self) -> None:
        self.net.close()


def make_peers(names: list[str], backend_name: str = "ort-cpu") -> tuple[list[Peer], list[str]]:
    """Build the requested peers; returns (peers, notes) where notes say which were skipped and how to add them."""
    peers: list[Peer] = []
    notes: list[str] = []
    for name in names:
        if name == BICUBIC:
            peers.append(BicubicPeer())
        elif name in ONNX_PEERS:
            try:
                peers.append(OnnxPeer(name, peer_onnx(name), ort_providers(backend_name)))
            except OftsrError as exc:
                notes.append(f"peer {name} skipped: {exc}")
        else:
            from oftsr_edge.evaluation import ncnn_peers

            net, note = ncnn_peers.make(name)
            if net is not None:
                peers.append(NcnnPeer(net))
            if note:
                notes.append(note)
    return peers, notes
