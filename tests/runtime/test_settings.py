"""One frozen Settings per run: each value checked once when it is made, resolved against the model once by the
Upscaler, and handed as one object to the folder run, frame streams and video."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import OptionError, OrtCpu, Settings, Upscaler
from oftsr_edge.runtime.frames import FrameUpscaler
from oftsr_edge.runtime.io.image_io import write_image
from tests.helpers.cli import run_main


def test_values_are_checked_when_made_and_the_object_is_frozen() -> None:
    assert Settings(tile="AUTO").tile == "auto" and Settings(tile=None).tile == "auto"
    assert Settings(t=0.25, memory_budget=5).replace(seed=None).seed is None
    for bad, needle in (({"t": 1.5}, "t must be in"), ({"seed": -1}, "seed must be"), ({"tile": -2}, "tile must"),
                        ({"batch_size": 0}, "batch_size must"), ({"t": True}, "t must be a number")):  # fmt: skip
        with pytest.raises(OptionError, match=needle) as info:
            Settings(**bad)
        assert "\n" not in str(info.value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().t = 0.5  # type: ignore[misc]


def test_the_upscaler_resolves_the_models_defaults_once(tiny_onnx_fp32: Path) -> None:
    with Upscaler(tiny_onnx_fp32, OrtCpu(threads=1), Settings(tile=16, overlap=8, seed=3)) as up:
        assert up.settings.t == up.spec.default_t and up.settings.solver_steps == 1 and up.settings.seed == 3
        assert up.resolve(up.settings.replace(t=None)).t == up.spec.default_t
        with pytest.raises(OptionError, match="tiling"):
            up.resolve(Settings(tile=32))  # another tiling needs another Upscaler
        image = np.random.default_rng(0).integers(0, 256, (12, 20, 3), np.uint8)
        np.testing.assert_array_equal(up.upscale(image), up.upscale(image, t=up.spec.default_t, seed=3))
        assert FrameUpscaler(up, t=0.7).t == 0.7 and FrameUpscaler(up).seed == 3
    with pytest.raises(OptionError, match="either as settings or as keywords"):
        Upscaler(tiny_onnx_fp32, OrtCpu(threads=1), Settings(), tile=16)


def test_a_folder_run_checks_t_once_whatever_the_number_of_images(
    tiny_onnx_fp32: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    for k in range(3):
        write_image(tmp_path / "in" / f"{k}.png", rng.integers(0, 256, (12, 16, 3), np.uint8))
    calls: list[str] = []

    def count(frame, event, arg):  # noqa: ANN001, ANN202
        if event == "call" and frame.f_code.co_name == "check_t":
            calls.append(frame.f_globals.get("__name__", ""))

    sys.setprofile(count)
    try:
        result = run_main(capsys, "upscale", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--model",
                          str(tiny_onnx_fp32), "--backend", "ort-cpu", "--t", "0.3", "--quiet")  # fmt: skip
    finally:
        sys.setprofile(None)
    assert result.code == 0, result.err
    assert "upscaled 3 image(s)" in result.out
    assert len(calls) == 1  # the Settings made from --t; the folder run and each image trust it
