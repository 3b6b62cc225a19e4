"""``oftsr-edge upscale in.mp4 -o out.mp4``: the upscale command's video branch, its options and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import assert_one_line_error, run_main
from tests.video.clips import audio_packets, make_clip, video_frames

pytest.importorskip("av", reason="could not import 'av' (in the [dev] extra: pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("cli_clip") / "clip.mp4", frames=6)


def test_upscale_a_video_file(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "clip_x4.mp4"
    result = run_main(capsys, "upscale", str(clip), "-o", str(out), "--crf", "23", "--tile", "32", "--t", "0.4", "-q")
    assert result.code == 0, result.err
    assert "upscaled 6 frame(s) 64x48 -> 256x192" in result.out and "1 audio stream(s) copied" in result.out
    assert len(video_frames(out)[0]) == 6 and audio_packets(out) == audio_packets(clip)
    again = run_main(capsys, "upscale", str(clip), "-o", str(out), "--crf", "23", "--tile", "32", "--t", "0.4", "-q")
    assert again.code == 0 and "nothing to do" in again.out


def test_an_output_folder_gets_the_inputs_name(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "upscale", str(clip), "-o", str(tmp_path), "--tile", "0", "-q")
    assert result.code == 0, result.err
    assert (tmp_path / "clip.mp4").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--suffix", "_x4"], "--suffix: for images only"),
        (["--format", "png"], "--format: for images only"),
        (["--codec", "nope"], "no such video encoder"),
        (["--crf", "70"], "--crf must be in 0-63"),
        (["--backend", "openvino", "--device", "1"], "backend 'openvino' has no option device"),
    ],
)
def test_bad_video_options_are_one_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    result = run_main(capsys, "upscale", str(clip), "-o", str(tmp_path / "o.mp4"), "-q", *args)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "o.mp4").exists()


def test_codec_options_with_images_and_mixed_inputs_are_errors(
    clip: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = str(photos / "LR_bicubic" / "X4" / "kodim08.png")
    assert_one_line_error(run_main(capsys, "upscale", photo, "-o", str(tmp_path / "o.png"), "--crf", "20"),
                          "--codec and --crf apply to video inputs only")  # fmt: skip
    assert_one_line_error(run_main(capsys, "upscale", str(clip), photo, "-o", str(tmp_path)),
                          "one video per run")  # fmt: skip
