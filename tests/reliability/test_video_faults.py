"""Video runs under faults: a truncated input is decoded as far as it goes, kept, and reported in one line with a
non-zero exit (never a silent half-length video with exit 0); what a killed run left beside the output is swept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.fileio import TEMP_SUFFIX
from tests.helpers.cli import run_main
from tests.reliability.conftest import dead_pid

av = pytest.importorskip("av")
pytest.importorskip("onnxruntime")

FRAMES = 16


def _clip(path: Path, fmt: str = "mp4") -> Path:
    """Random frames (so every frame is a similar share of the file), index at the front (``faststart``, as web
    and phone videos are): a cut-off copy still opens and its container still declares all the frames."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if fmt == "mp4" else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        video = out.add_stream("libx264", rate=8, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = 32, 24, "yuv420p"
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return path


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("fmt", ["mp4", "matroska"])
def test_a_truncated_video_is_kept_as_far_as_it_decodes_and_reported_with_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, fmt: str
) -> None:
    whole = _clip(tmp_path / f"whole.{'mp4' if fmt == 'mp4' else 'mkv'}", fmt)
    cut = tmp_path / f"cut{whole.suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # an interrupted download
    target = tmp_path / f"up{whole.suffix}"
    for _ in range(2):  # the rerun redoes it (the kept output is not "current") and says so again
        result = run_main(capsys, "upscale", str(cut), "-o", str(target), "--model", str(model), "-q")
        assert result.code == 2, result.err
        lines = [line for line in result.err.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.err, result.err
        decoded = _frames(target)
        assert 0 < decoded < FRAMES
        assert lines[0] == (f"oftsr-edge: error: {cut}: decoded {decoded} of the {FRAMES} frame(s) its container "
                            f"declares (truncated or damaged input); {target} holds the {decoded} decoded frame(s)")
        assert f"upscaled {decoded} frame(s)" in result.out
    whole_run = run_main(capsys, "upscale", str(whole), "-o", str(tmp_path / f"w{whole.suffix}"), "--model",
                         str(model), "-q")
    assert whole_run.code == 0 and whole_run.err == "", whole_run.err


def test_a_killed_video_runs_temporary_file_is_swept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    clip = _clip(tmp_path / "in.mp4")
    out = tmp_path / "out"
    out.mkdir()
    killed = out / f".up.mp4.{dead_pid()}.abcd1234{TEMP_SUFFIX}"  # what SIGKILL leaves mid-write
    killed.write_bytes(b"half a video")
    result = run_main(capsys, "upscale", str(clip), "-o", str(out / "up.mp4"), "--model", str(model), "-q")
    assert result.code == 0, result.err
    assert "1 stale temporary file(s) of an interrupted run removed" in result.out
    assert sorted(p.name for p in out.iterdir()) == ["up.mp4"]
