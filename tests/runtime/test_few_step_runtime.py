"""The few-step path of a two-time (MeanFlow) student through the runtime (docs/architecture.md §3, §5): K calls
chained exactly as hand-written ONNX Runtime calls, K = 1 is the one-step map, tiles stay invisible for K > 1, and
one-step (format 1) models keep working and refuse K > 1 in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import contract
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime import provenance
from oftsr_edge.runtime.backends.base import CPU
from oftsr_edge.runtime.backends.options import OrtCpu
from oftsr_edge.runtime.io.image_io import read_image
from oftsr_edge.runtime.tiling.noise import NOISE_BLOCK, NoiseField
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.cli import assert_one_line_error, run_main
from tests.runtime.test_upscaler import psnr

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def photo(photos: Path) -> np.ndarray:
    """A real LR photo (48×64, houses) as float32 in [0, 1]: float in, float out, nothing rounded."""
    return read_image(photos / "LR_bicubic" / "X4" / "kodim08.png").astype(np.float32) / 255.0


class PointwiseTwoTime:
    """A stand-in two-time backend (format 2, ×4, multiple_of 1) whose output at a pixel depends on that pixel
    alone: tiled and whole-image runs must then agree to float rounding, at every step of the chain."""

    name = "numpy"
    device = CPU
    fixed_shape = False
    profile_tile = None
    spec = contract.ModelSpec(
        name="pointwise-mf", scale=4, sigma_p=0.1, multiple_of=1, default_t=0.5, precision="fp32", opset=18,
        tile=16, degradation="bicubic", checkpoint_sha256="0" * 64, format_version=contract.TWO_TIME_FORMAT_VERSION,
        method="meanflow", default_steps=3,
    )  # fmt: skip

    def run_step(self, lr, noise, t, state, r):  # noqa: ANN001, ANN201
        up = lr.repeat(4, axis=2).repeat(4, axis=3)
        x0 = 0.9 * up + 0.1 * noise
        t4, r4 = t[:, None, None, None], r[:, None, None, None]
        u = (up - x0 - state) * (1.0 + t4 - r4) + 0.05 * np.sin(8.0 * r4 + up)
        hr = np.clip(x0 + state + (1.0 - r4) * u, 0.0, 1.0)
        return hr.astype(np.float32), (state + (t4 - r4) * u).astype(np.float32)

    def run(self, lr, noise, t):  # noqa: ANN001, ANN201
        n = len(lr)
        return self.run_step(lr, noise, np.full(n, t, np.float32), np.zeros_like(noise), np.zeros(n, np.float32))[0]

    def close(self) -> None:
        pass


def test_tiled_chain_of_a_pointwise_model_equals_the_whole_array_chain() -> None:
    from oftsr_edge.few_step import run_graph

    image = np.random.default_rng(0).random((21, 30, 3), dtype=np.float32)
    backend = PointwiseTwoTime()
    whole = Upscaler.from_backend(backend, tile=0).upscale(image, t=0.9, seed=7)
    noise = np.empty((1, 3, 84, 120), np.float32)
    NoiseField(7, NOISE_BLOCK).fill(noise[0], 0, 0)
    lr = np.ascontiguousarray(image.transpose(2, 0, 1)[None])
    expected = run_graph(backend.run_step, lr, noise, 0.9, 3)[0].transpose(1, 2, 0)
    np.testing.assert_allclose(whole, np.clip(expected, 0.0, 1.0), atol=1e-6)
    assert np.abs(whole - Upscaler.from_backend(backend, tile=0, solver_steps=1).upscale(image, 0.9, 7)).max() > 1e-3
    for tile, overlap, batch in ((8, 2, 1), (8, 4, 3), (12, 4, 2)):
        tiled = Upscaler.from_backend(backend, tile=tile, overlap=overlap, batch_size=batch).upscale(image, 0.9, 7)
        np.testing.assert_allclose(tiled, whole, atol=2e-5)


def test_auto_tiling_takes_the_k_step_states_off_the_budget() -> None:
    """Two whole-image float32 states (24 B per HR pixel) live through a K > 1 run whatever the tiling, so a budget
    that fits the one-step whole-image call no longer fits K = 3's: it gets tiles, and stays under the budget."""
    backend, (h, w) = PointwiseTwoTime(), (300, 400)
    state = 2 * 12 * (4 * h) * (4 * w)
    whole = Upscaler.from_backend(backend, solver_steps=1, memory_budget=1 << 40).tiling.plan(h, w)
    budget = whole.peak_bytes + state // 2
    assert Upscaler.from_backend(backend, solver_steps=1, memory_budget=budget).tiling.plan(h, w).whole
    tiled = Upscaler.from_backend(backend, solver_steps=3, memory_budget=budget).tiling.plan(h, w)
    assert not tiled.whole and state < tiled.peak_bytes <= budget == tiled.budget_bytes
    fixed = Upscaler.from_backend(backend, tile=64, solver_steps=3).tiling.plan(h, w)
    assert fixed.peak_bytes - Upscaler.from_backend(backend, tile=64, solver_steps=1).tiling.plan(h, w).peak_bytes == state


def hand_chained(model: Path, photo: np.ndarray, t: float, k: int, seed: int) -> np.ndarray:
    """The K-step path written out with plain ONNX Runtime calls: times k·t/K, state 0 at r = 0, each call's
    next_state fed to the next, the last call's hr kept (the whole image in one call per step)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    h, w, _ = photo.shape
    lr = np.ascontiguousarray(photo.transpose(2, 0, 1)[None])
    noise = np.empty((1, 3, 4 * h, 4 * w), np.float32)
    NoiseField(seed, NOISE_BLOCK).fill(noise[0], 0, 0)  # the runtime's noise: a function of (seed, HR pixel)
    state = np.zeros_like(noise)
    times = [t * i / k for i in range(k)] + [t]
    for i in range(k):
        s, r = np.array([times[i + 1]], np.float32), np.array([times[i]], np.float32)
        feed = {contract.INPUT_LR: lr, contract.INPUT_NOISE: noise, contract.INPUT_T: s, contract.INPUT_STATE: state,
                contract.INPUT_R: r}  # fmt: skip
        hr, state = session.run([contract.OUTPUT_HR, contract.OUTPUT_STATE], feed)
    return hr[0].transpose(1, 2, 0)


@pytest.mark.parametrize("t,k", [(0.6, 2), (1.0, 4), (0.3, 3)])
def test_k_steps_equal_hand_chained_onnxruntime_calls(tiny_meanflow_onnx: Path, photo: np.ndarray, t: float,
                                                      k: int) -> None:
    with Upscaler(tiny_meanflow_onnx, OrtCpu(threads=1), tile=0, solver_steps=k) as up:
        assert up.solver_steps == k and up.spec.two_time
        got = up.upscale(photo, t=t, seed=5)
    expected = hand_chained(tiny_meanflow_onnx, photo, t, k, seed=5)
    assert np.abs(got - expected).max() < 1e-5
    one_step = hand_chained(tiny_meanflow_onnx, photo, t, 1, seed=5)
    assert np.abs(got - one_step).max() > 1e-3  # the chain is not the one-step map in disguise


def test_one_step_is_the_one_step_map(tiny_meanflow_onnx: Path, photo: np.ndarray) -> None:
    with Upscaler(tiny_meanflow_onnx, OrtCpu(threads=1), tile=0, solver_steps=1) as up:
        got = up.upscale(photo, t=0.7, seed=2)
        session = up.backend._session  # the one-step feed: state 0, r = 0
        lr = np.ascontiguousarray(photo.transpose(2, 0, 1)[None])
        noise = np.empty((1, 3, 192, 256), np.float32)
        NoiseField(2, NOISE_BLOCK).fill(noise[0], 0, 0)
        (hr,) = session.run([contract.OUTPUT_HR], contract.first_step_feeds(up.spec, lr, noise, 0.7))
    np.testing.assert_allclose(got, hr[0].transpose(1, 2, 0), atol=1e-6)
    np.testing.assert_allclose(got, hand_chained(tiny_meanflow_onnx, photo, 0.7, 1, seed=2), atol=1e-6)
    with Upscaler(tiny_meanflow_onnx, tile=0, solver_steps=4) as up:  # t = 0: one call, whatever K
        np.testing.assert_array_equal(up.upscale(photo, t=0.0, seed=2),
                                      Upscaler(tiny_meanflow_onnx, tile=0, solver_steps=1).upscale(photo, t=0.0, seed=2))


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("tile,overlap,batch", [(16, 8, 1), (24, 8, 3), (32, 16, 2)])
def test_tiled_k_steps_match_the_whole_image(tiny_meanflow_onnx: Path, photo: np.ndarray, k: int, tile: int,
                                             overlap: int, batch: int) -> None:
    whole = Upscaler(tiny_meanflow_onnx, tile=0, solver_steps=k).upscale(photo, t=0.8, seed=3)
    with Upscaler(tiny_meanflow_onnx, tile=tile, overlap=overlap, batch_size=batch, solver_steps=k) as up:
        assert up.tiling.plan(*photo.shape[:2]).tiles > 1
        tiled = up.upscale(photo, t=0.8, seed=3)
    value = psnr(tiled, whole)
    print(f"tiled vs whole, K={k}, tile {tile}, overlap {overlap}, batch {batch}: {value:.1f} dB")
    assert value >= 45.0, f"K={k}, tile {tile}, overlap {overlap}: {value:.1f} dB"


def test_the_state_is_blended_not_taken_from_each_tile(tiny_meanflow_onnx: Path, photo: np.ndarray) -> None:
    """Each step is a full pass: K passes over every tile, in order of the schedule, and progress covers them all."""
    from oftsr_edge.runtime.backends.select import open_backend

    backend = open_backend(tiny_meanflow_onnx, OrtCpu(threads=1))
    calls: list[tuple[float, float]] = []
    real_step = backend.run_step

    def spy(lr, noise, t, state, r):  # noqa: ANN001, ANN202
        calls.append((round(float(r[0]), 6), round(float(t[0]), 6)))
        return real_step(lr, noise, t, state, r)

    backend.run_step = spy
    seen: list[tuple[int, int]] = []
    with Upscaler.from_backend(backend, tile=16, overlap=8, solver_steps=3) as up:
        up.upscale(photo, t=0.9, seed=1, progress=lambda done, total: seen.append((done, total)))
        tiles = up.tiling.plan(*photo.shape[:2]).tiles
    assert tiles > 1 and len(calls) == 3 * tiles
    assert calls == [(0.0, 0.3)] * tiles + [(0.3, 0.6)] * tiles + [(0.6, 0.9)] * tiles
    assert seen[-1] == (3 * tiles, 3 * tiles) and [d for d, _ in seen] == list(range(1, 3 * tiles + 1))


def test_the_model_default_and_io_binding(tiny_meanflow_onnx: Path, photo: np.ndarray) -> None:
    with Upscaler(tiny_meanflow_onnx, tile=16, overlap=8) as up:
        assert up.solver_steps == up.spec.default_steps == 2
        default = up.upscale(photo, t=0.5, seed=4)
    bound = Upscaler(tiny_meanflow_onnx, OrtCpu(io_binding=True), tile=16, overlap=8, solver_steps=2)
    np.testing.assert_allclose(bound.upscale(photo, t=0.5, seed=4), default, atol=1e-6)


def test_one_step_models_refuse_more_steps(tiny_onnx_fp32: Path, photo: np.ndarray) -> None:
    spec = contract.read_spec(tiny_onnx_fp32)
    assert not spec.two_time and spec.default_steps == 1 and "default_steps" not in spec.to_json()
    with pytest.raises(OftsrError) as caught:
        Upscaler(tiny_onnx_fp32, solver_steps=2)
    assert str(caught.value) == (
        f"{spec.name} is a one-step OFTSR student: it runs 1 step only (2 asked); a few-step path needs a "
        "MeanFlow student (distill --method meanflow)"
    )
    with Upscaler(tiny_onnx_fp32, tile=16, overlap=8, solver_steps=1) as up:  # format 1 runs as it always did
        assert up.solver_steps == 1
        np.testing.assert_array_equal(up.upscale(photo, t=0.5, seed=3),
                                      Upscaler(tiny_onnx_fp32, tile=16, overlap=8).upscale(photo, t=0.5, seed=3))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(OftsrError, match="solver_steps must be an integer"):
            Upscaler(tiny_onnx_fp32, solver_steps=bad)
    with pytest.raises(OftsrError, match="steps must be an integer from 1 to 64"):
        Upscaler(tiny_onnx_fp32, solver_steps=65)


def test_upscale_command_runs_k_steps_and_records_them(tmp_path: Path, tiny_meanflow_onnx: Path,
                                                       tiny_onnx_fp32: Path, photos: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = photos / "LR_bicubic" / "X4" / "kodim08.png"
    out = tmp_path / "out.png"
    args = ("upscale", str(source), "-o", str(out), "--model", str(tiny_meanflow_onnx), "--t", "0.6", "--quiet")
    proc = run_main(capsys, *args, "--solver-steps", "2")
    assert proc.code == 0, proc.err
    record = provenance.read_record(out)
    assert record["solver_steps"] == 2 and record["t"] == 0.6
    expected = Upscaler(tiny_meanflow_onnx, solver_steps=2).upscale(read_image(source), t=0.6, seed=0)
    np.testing.assert_array_equal(read_image(out), expected)
    assert "skipped" in run_main(capsys, *args, "--solver-steps", "2").out  # same settings: kept
    proc = run_main(capsys, *args, "--solver-steps", "3")  # another K: the output is stale, rewritten
    assert "rewritten" in proc.out and provenance.read_record(out)["solver_steps"] == 3
    one_step = run_main(capsys, "upscale", str(source), "-o", str(tmp_path / "one.png"), "--model",
                        str(tiny_onnx_fp32), "--quiet")  # fmt: skip
    assert one_step.code == 0 and provenance.read_record(tmp_path / "one.png")["solver_steps"] == 1
    assert_one_line_error(run_main(capsys, "upscale", str(source), "-o", str(tmp_path / "x.png"), "--model",
                                   str(tiny_onnx_fp32), "--solver-steps", "2"),
                          "is a one-step OFTSR student: it runs 1 step only (2 asked)")  # fmt: skip
    assert not (tmp_path / "x.png").exists()


def test_openvino_runs_both_formats_like_onnx_runtime(tiny_meanflow_onnx: Path, photo: np.ndarray) -> None:
    pytest.importorskip("openvino", reason="could not import 'openvino' (in the [dev] extra: pip install -e '.[dev]')")
    from oftsr_edge.runtime.backends.options import OpenVino

    with Upscaler(tiny_meanflow_onnx, OpenVino(threads=1), tile=16, overlap=8, solver_steps=2) as ov:
        assert ov.backend_name == "openvino" and ov.spec.two_time
        got = ov.upscale(photo, t=0.6, seed=3)
        one_step = ov.upscale(photo, t=0.0, seed=3)
    with Upscaler(tiny_meanflow_onnx, OrtCpu(threads=1), tile=16, overlap=8, solver_steps=2) as ort:
        assert np.abs(got - ort.upscale(photo, t=0.6, seed=3)).max() < 1e-4
        assert np.abs(one_step - ort.upscale(photo, t=0.0, seed=3)).max() < 1e-4


def test_ray_workers_take_the_solver_steps(tiny_meanflow_onnx: Path) -> None:
    from oftsr_edge.scale.ray_adapter import RayUpscaler  # its Upscaler needs no Ray

    assert RayUpscaler(tiny_meanflow_onnx, backend="ort-cpu", solver_steps=3).upscaler.solver_steps == 3
    assert RayUpscaler(tiny_meanflow_onnx, backend="ort-cpu").upscaler.solver_steps == 2  # the model's default
