"""Every backend is a :class:`Backend` (typed protocol): the Upscaler reads ``device``, ``fixed_shape`` and
``profile_tile`` from it instead of guessing from its name, and ``run`` takes ``t`` as one float."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import OpenVino, OrtCpu, Upscaler
from oftsr_edge.runtime.backends.base import CPU, Backend, Device, StepBackend
from oftsr_edge.runtime.backends.onnxruntime import OrtBackend
from oftsr_edge.runtime.device import memory


def test_onnx_runtime_backend_is_a_backend_on_the_cpu(tiny_onnx_fp32: Path) -> None:
    backend = OrtBackend(tiny_onnx_fp32, OrtCpu(threads=1))
    try:
        assert isinstance(backend, Backend) and isinstance(backend, StepBackend)
        assert backend.device == CPU and not backend.device.on_gpu and str(backend.device) == "cpu"
        assert backend.fixed_shape is False and backend.profile_tile is None
        lr = np.zeros((2, 3, 8, 8), np.float32)
        assert backend.run(lr, np.zeros((2, 3, 32, 32), np.float32), 0.25).shape == (2, 3, 32, 32)
    finally:
        backend.close()


def test_device_names_where_the_budget_is_read() -> None:
    assert Device("cuda", 1).on_gpu and str(Device("cuda", 1)) == "cuda:1"


def test_openvino_on_the_cpu_reads_its_budget_from_ram_not_vram(
    tiny_onnx_fp32: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenVINO runs on the CPU: an automatic tiling sizes itself by free RAM and never reads VRAM, whatever the
    backend's name."""
    pytest.importorskip("openvino")
    vram: list[int] = []
    monkeypatch.setattr(memory, "free_vram_bytes", lambda device=0: vram.append(device) or 8 * 2**30)
    with Upscaler(tiny_onnx_fp32, OpenVino(threads=1)) as up:  # tile "auto": the budget is read per image
        assert isinstance(up.backend, Backend) and up.backend.device == CPU
        out = up.upscale(np.zeros((12, 16, 3), np.uint8), t=0.5, seed=0)
    assert out.shape == (48, 64, 3)
    assert vram == []
