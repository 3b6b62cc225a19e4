"""Frames API on the bundled model: bit-identical to per-image calls, reused buffers, no flicker in a static scene
(identical frames, and the still part of a frame whose corner moves), gray/RGBA frames, folder order, bad buffers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.frames import FrameUpscaler, frame_paths, read_frames, upscale_frames
from oftsr_edge.runtime.io.image_io import read_image, write_image
from oftsr_edge.runtime.upscaler import Upscaler


@pytest.fixture(scope="module")
def upscaler() -> Upscaler:
    with Upscaler(tile=32, overlap=8) as up:  # several tiles per frame, so the tiling is exercised
        yield up


@pytest.fixture(scope="module")
def clip(photos: Path) -> list[np.ndarray]:
    """Four 48×64 RGB frames: a real photo panned one pixel per frame, then a repeat of the last frame."""
    lr = read_image(photos / "LR_bicubic" / "X4" / "kodim08.png")  # 48 x 64 x 3
    wide = np.concatenate([lr, lr[:, ::-1]], axis=1)
    frames = [np.ascontiguousarray(wide[:, k : k + 64]) for k in range(3)]
    return [*frames, frames[-1].copy()]


def test_frames_equal_per_image_calls_with_reuse_and_without(upscaler: Upscaler, clip: list[np.ndarray]) -> None:
    expected = [upscaler.upscale(f, t=0.7, seed=5) for f in clip]
    fresh = list(upscale_frames(upscaler, iter(clip), t=0.7, seed=5))
    assert all(np.array_equal(a, b) for a, b in zip(fresh, expected))
    reused = []
    for hr in upscale_frames(upscaler, iter(clip), t=0.7, seed=5, reuse=True):
        reused.append((id(hr), hr.copy()))
    assert len({i for i, _ in reused}) == 1, "one buffer for every frame of one size"
    assert all(np.array_equal(a, b) for (_, a), b in zip(reused, expected))
    assert not np.array_equal(expected[0], expected[1]), "the frames differ, so equality is not vacuous"


def test_static_scene_does_not_flicker(upscaler: Upscaler, clip: list[np.ndarray]) -> None:
    out = list(upscale_frames(upscaler, [clip[0]] * 3, seed=11))
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])
    other_seed = next(upscale_frames(upscaler, [clip[0]], seed=12))
    assert not np.array_equal(out[0], other_seed), "the seed matters, so equal frames come from the fixed noise"


def test_a_moving_corner_leaves_the_still_part_of_the_frame_identical(upscaler: Upscaler, photos: Path) -> None:
    still = read_image(photos / "LR_bicubic" / "X4" / "kodim08.png")
    moved = still.copy()
    moved[:6, :6] = 255 - moved[:6, :6]  # something moves in the top-left corner
    a, b = upscale_frames(upscaler, [still, moved], seed=3)
    assert not np.array_equal(a[:24, :24], b[:24, :24])
    # far from the corner (outside the network's reach and the corner's tiles) the pixels are bit-identical
    assert np.array_equal(a[96:, 160:], b[96:, 160:])


def test_gray_and_rgba_frames_match_per_image_calls(upscaler: Upscaler, clip: list[np.ndarray]) -> None:
    gray = clip[0][..., 1].copy()
    rgba = np.dstack([clip[1], np.full(clip[1].shape[:2], 200, np.uint8)])
    outs = list(upscale_frames(upscaler, [gray, rgba], seed=2, reuse=True))
    assert np.array_equal(outs[0], upscaler.upscale(gray, seed=2))
    assert np.array_equal(outs[1], upscaler.upscale(rgba, seed=2))


def test_a_wrong_output_buffer_is_one_error(upscaler: Upscaler, clip: list[np.ndarray]) -> None:
    frames = FrameUpscaler(upscaler, t=0.5, seed=0)
    with pytest.raises(OftsrError, match="out must be a"):
        frames.upscale(clip[0], out=np.empty((10, 10, 3), np.uint8))
    with pytest.raises(OftsrError, match="t must be"):
        FrameUpscaler(upscaler, t=2.0)


def test_a_frame_folder_is_read_in_name_order(tmp_path: Path, clip: list[np.ndarray]) -> None:
    for name, frame in [("f10.png", clip[2]), ("f2.png", clip[1]), ("f1.png", clip[0]), (".hidden.png", clip[0])]:
        write_image(tmp_path / name, frame)
    assert [p.name for p in frame_paths(tmp_path)] == ["f1.png", "f2.png", "f10.png"]
    assert all(np.array_equal(a, b) for a, b in zip(read_frames(tmp_path), clip[:3]))
    with pytest.raises(OftsrError, match="no images found"):
        frame_paths(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
    with pytest.raises(OftsrError, match="not a folder"):
        frame_paths(tmp_path / "f1.png")


def test_the_upscaler_method_is_the_same_stream(upscaler: Upscaler, clip: list[np.ndarray]) -> None:
    via_method = list(upscaler.upscale_frames(iter(clip), t=0.3, seed=2))
    assert all(np.array_equal(a, upscaler.upscale(f, t=0.3, seed=2)) for a, f in zip(via_method, clip))
    assert len(via_method) == len(clip)
