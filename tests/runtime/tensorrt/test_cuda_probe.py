"""The GPU probe: safe without cuda-python, without a driver, and with fake devices."""

from __future__ import annotations

import sys

import pytest

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.tensorrt import cuda_probe
from oftsr_edge.runtime.backends.tensorrt.cuda_probe import GpuInfo, cuda_check, probe_gpus, require_gpu
from tests.helpers.fake_tensorrt import FakeCudart, cudaError_t


def test_probe_lists_fake_devices() -> None:
    probe = probe_gpus(FakeCudart([("NVIDIA Jetson AGX Orin", 8, 7), ("NVIDIA H100 80GB HBM3", 9, 0)]))
    assert probe.available
    assert [g.name for g in probe.gpus] == ["NVIDIA Jetson AGX Orin", "NVIDIA H100 80GB HBM3"]
    assert probe.gpus[0].compute_capability == "8.7"
    assert probe.gpus[1].slug == "nvidia-h100-80gb-hbm3-sm90"


def test_no_driver_reads_as_no_gpu_with_reason() -> None:
    probe = probe_gpus(FakeCudart(count_error=cudaError_t.cudaErrorInsufficientDriver))
    assert not probe.available and "cudaErrorInsufficientDriver" in probe.reason
    with pytest.raises(OftsrError, match="TensorRT needs a CUDA GPU"):
        require_gpu(0, FakeCudart(count_error=100))
    assert "no CUDA device" in probe_gpus(FakeCudart(gpus=[])).reason


def test_require_gpu_picks_the_device() -> None:
    fake = FakeCudart([("A", 8, 6), ("B", 8, 9)])
    assert require_gpu(1, fake) == GpuInfo(1, "B", 8, 9, 1 << 34)
    with pytest.raises(OftsrError, match="device 2 does not exist"):
        require_gpu(2, fake)


def test_a_crashing_binding_reads_as_no_gpu() -> None:
    class Broken:
        def cudaGetDeviceCount(self):  # noqa: N802
            raise RuntimeError("libcuda.so: cannot open shared object file")

    assert "CUDA probe failed" in probe_gpus(Broken()).reason  # type: ignore[arg-type]


def test_without_cuda_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    monkeypatch.setitem(sys.modules, "cuda.cudart", None)
    assert cuda_probe.import_cudart() is None
    assert "cuda-python is not installed" in probe_gpus().reason
    with pytest.raises(MissingExtraError, match="oftsr-edge\\[trt\\]"):
        cuda_probe.require_cudart()


@pytest.mark.gpu
def test_real_cuda_python_if_installed() -> None:
    """On a GPU-less machine the real binding must report "no GPU", not crash."""
    cudart = cuda_probe.import_cudart()
    if cudart is None:
        pytest.skip("needs cuda-python: not installed")
    probe = probe_gpus(cudart)
    assert probe.available or probe.reason


def test_cuda_check_unpacks_results() -> None:
    assert cuda_check((cudaError_t.cudaSuccess,), "x") is None
    assert cuda_check((cudaError_t.cudaSuccess, 7), "x") == 7
    assert cuda_check((cudaError_t.cudaSuccess, 1, 2), "x") == (1, 2)
    with pytest.raises(OftsrError, match="CUDA error in cudaMalloc: cudaErrorNoDevice"):
        cuda_check((cudaError_t.cudaErrorNoDevice, None), "cudaMalloc")
