"""``--backend auto`` on a CPU: the engine and precision timed fastest here, measured once per machine and model,
cached (runtime/backends/cpu_choice.py). The suite turns the timing off (tests/conftest.py); these tests turn it on
with their own cache folder, time on tiny tiles, or seed the cache, so no result depends on this machine's speed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import Upscaler
from oftsr_edge.runtime.backends import cpu_choice
from oftsr_edge.runtime.backends.cpu_choice import Candidate, CpuChoice
from oftsr_edge.runtime.backends.options import OrtCpu
from oftsr_edge.runtime.models import bundled_cards, default_name
from tests.helpers.cli import run_main

DEFAULT = bundled_cards()[default_name()]


@pytest.fixture
def timing_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Timing on, ONNX Runtime only (OpenVINO's presence must not change what these tests see), a fresh cache."""
    monkeypatch.setenv(cpu_choice.ENV, "1")
    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cpu_choice, "_openvino_version", lambda: None)
    return tmp_path / "cache" / cpu_choice.CACHE_FILE


def ort_candidates() -> list[Candidate]:
    return cpu_choice.candidates(dict(DEFAULT.files), with_openvino=False)


def seed_cache(found: list[Candidate], engine: str, precision: str, threads: int = 0) -> None:
    """Write the cache entry a measurement would have written (what the choice then reads)."""
    choice = CpuChoice(engine, precision, "elsewhere.onnx", {f"{engine} {precision}": 1.0}, 64, "2026-01-01 00:00")
    cpu_choice._write_cache(cpu_choice.cache_path(), cpu_choice.cache_key(found, threads), choice)


def test_the_baseline_stays_unless_something_is_clearly_faster() -> None:
    found = ort_candidates()
    assert [c.label for c in found][0] == "ort-cpu fp32"
    close = cpu_choice.pick(found, {"ort-cpu fp32": 100.0, "ort-cpu fp16": 95.0, "ort-cpu int8": 120.0}, 64)
    assert close is not None and close.label == "ort-cpu fp32"  # 5 % is timing noise: the output stays fp32
    clear = cpu_choice.pick(found, {"ort-cpu fp32": 100.0, "ort-cpu fp16": 130.0, "ort-cpu int8": 70.0}, 64)
    assert clear is not None and clear.label == "ort-cpu int8" and Path(clear.path) == DEFAULT.files["int8"]
    assert cpu_choice.pick(found, {}, 64) is None  # nothing ran
    # OpenVINO's fp32 and an int8 file it runs at fp32's speed: equally fast, so the exact one
    both = found + [Candidate("openvino", p, c.path) for p, c in zip(("fp32", "int8"), (found[0], found[2]))]
    tie = cpu_choice.pick(both, {"ort-cpu fp32": 58.0, "openvino fp32": 50.9, "openvino int8": 49.8}, 64)
    assert tie is not None and tie.label == "openvino fp32"
    gain = cpu_choice.pick(both, {"ort-cpu fp32": 58.0, "openvino fp32": 50.9, "openvino int8": 30.0}, 64)
    assert gain is not None and gain.label == "openvino int8"


def test_one_measurement_then_the_cache(timing_on: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = ort_candidates()
    notes: list[str] = []
    first = cpu_choice.choose(found, 1, tile=16, runs=1, note=notes.append)
    assert first is not None and set(first.ms) == {c.label for c in found} and all(v > 0 for v in first.ms.values())
    assert len(notes) == 2 and str(timing_on) in notes[0]
    entries = json.loads(timing_on.read_text())["entries"]
    assert len(entries) == 1 and next(iter(entries.values()))["engine"] == first.engine

    def no_timing(*_args: object, **_kwargs: object) -> dict[str, float]:
        raise AssertionError("measured again although cached")

    monkeypatch.setattr(cpu_choice, "measure", no_timing)
    assert cpu_choice.choose(found, 1, tile=16, runs=1, note=notes.append) == first
    with pytest.raises(AssertionError, match="measured again"):  # another thread count is another key
        cpu_choice.choose(found, 2, tile=16, runs=1, note=notes.append)


def test_a_broken_cache_is_measured_again_and_rewritten(timing_on: Path) -> None:
    timing_on.parent.mkdir(parents=True)
    timing_on.write_text("{not json")
    found = ort_candidates()
    assert cpu_choice.cached(found, 1) is None
    assert cpu_choice.choose(found, 1, tile=16, runs=1, note=lambda _text: None) is not None
    assert json.loads(timing_on.read_text())["version"] == cpu_choice.CACHE_VERSION


def test_an_unwritable_cache_costs_a_measurement_not_a_failure(
    timing_on: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    timing_on.parent.parent.mkdir(parents=True, exist_ok=True)
    timing_on.parent.write_text("a file where the cache folder should be")
    assert cpu_choice.choose(ort_candidates(), 1, tile=16, runs=1, note=lambda _text: None) is not None
    assert "cannot write" in capsys.readouterr().err


def test_a_model_file_changes_the_key(timing_on: Path, tmp_path: Path) -> None:
    found = ort_candidates()
    key = cpu_choice.cache_key(found, 0)
    copy = tmp_path / "int8.onnx"
    copy.write_bytes(DEFAULT.files["int8"].read_bytes() + b"\0")  # another model (trailing byte: other sha256)
    other = [c if c.precision != "int8" else Candidate(c.engine, c.precision, copy) for c in found]
    assert cpu_choice.cache_key(other, 0) != key


def test_auto_runs_the_cached_choice_and_explicit_backends_ignore_it(timing_on: Path) -> None:
    seed_cache(ort_candidates(), "ort-cpu", "int8")
    lr = np.random.default_rng(0).integers(0, 256, (24, 24, 3), np.uint8)
    with Upscaler() as auto:
        assert auto.backend_name == "ort-cpu" and auto.spec.precision == "int8"
        assert auto.model_path == DEFAULT.files["int8"]  # this installation's file, not the cached path
    with Upscaler(backend=OrtCpu()) as explicit:
        assert explicit.spec.precision == "fp32"  # what the golden tests pin never moves
    with Upscaler(f"{default_name()}_fp16") as named:
        assert named.spec.precision == "fp16"  # a precision asked for is kept (one file, no OpenVINO: no choice)
    seed_cache(ort_candidates(), "ort-cpu", "fp32")
    with Upscaler(tile=0) as auto, Upscaler(backend=OrtCpu(), tile=0) as before:
        assert auto.spec.precision == "fp32"
        assert np.array_equal(auto.upscale(lr, t=0.5, seed=3), before.upscale(lr, t=0.5, seed=3))


def test_timing_off_leaves_auto_as_it_was(timing_on: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_cache(ort_candidates(), "ort-cpu", "int8")
    monkeypatch.setenv(cpu_choice.ENV, "0")
    with Upscaler() as auto:
        assert auto.spec.precision == "fp32"
    assert "timing turned off" in cpu_choice.describe()


def test_bench_shows_the_cached_choice(timing_on: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("bench", "--runs", "1", "--warmup-runs", "0", "--image-size", "32x32", "--tile", "0", "--peers", "none",
            "--backend", "ort-cpu,auto")  # fmt: skip
    done = run_main(capsys, *args)
    assert done.code == 0, done.err
    assert f"auto for {default_name()}: not timed on this machine yet" in done.out
    seed_cache(ort_candidates(), "ort-cpu", "int8")
    done = run_main(capsys, *args)
    assert done.code == 0, done.err
    assert f"auto for {default_name()} on this CPU: ort-cpu int8" in done.out
    done = run_main(capsys, *args[:-1], "ort-cpu")
    assert "auto for" not in done.out  # only when auto is benchmarked


def test_the_upscale_command_lets_auto_choose_the_precision_of_a_bundled_name(
    timing_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.io.image_io import write_image
    from oftsr_edge.runtime.provenance import read_record

    seed_cache(ort_candidates(), "ort-cpu", "int8")
    source = write_image(tmp_path / "a.png", np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8))
    for backend, wanted in (("auto", "int8"), ("ort-cpu", "fp32")):
        done = run_main(capsys, "upscale", str(source), "-o", str(tmp_path / backend), "--model", default_name(),
                        "--backend", backend, "-q")  # fmt: skip
        assert done.code == 0, done.err
        record = read_record(tmp_path / backend / "a.png")
        assert record is not None and record["model_sha256"] == sha256_file(DEFAULT.files[wanted])


def test_a_candidate_that_fails_is_left_out_and_every_backend_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from oftsr_edge.errors import OftsrError

    closed: list[str] = []

    class Fake:
        def __init__(self, label: str) -> None:
            self.label = label

        def close(self) -> None:
            closed.append(self.label)

    def fake_timer(candidate: Candidate, threads: int, tile: int) -> tuple[Fake, object]:
        if candidate.precision == "fp16":
            raise OftsrError("cannot open")
        calls = {"n": 0}

        def call() -> None:
            calls["n"] += 1
            if candidate.precision == "int8" and calls["n"] > 1:  # opens, then fails while timed
                raise OftsrError("inference failed")

        return Fake(candidate.label), call

    monkeypatch.setattr(cpu_choice, "_timer", fake_timer)
    ms = cpu_choice.measure(ort_candidates(), 1, tile=16, runs=2)
    assert set(ms) == {"ort-cpu fp32"}
    assert sorted(closed) == ["ort-cpu fp32", "ort-cpu int8"]


def test_a_candidate_whose_output_disagrees_with_fp32_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fastest file is refused when its picture is wrong (OpenVINO's int8 once ran 10 dB below fp32)."""
    notes: list[str] = []

    class Fake:
        def close(self) -> None:
            pass

    def fake_timer(candidate: Candidate, threads: int, tile: int) -> tuple[Fake, object]:
        picture = np.full((1, 3, 8, 8), 0.5, np.float32)
        if candidate.precision == "int8":
            picture = picture + 0.1  # 20 dB away
        elif candidate.precision == "fp16":
            picture = picture + 0.001  # 60 dB away: fine
        return Fake(), lambda: picture

    monkeypatch.setattr(cpu_choice, "_timer", fake_timer)
    ms = cpu_choice.measure(ort_candidates(), 1, tile=16, runs=1, note=notes.append)
    assert set(ms) == {"ort-cpu fp32", "ort-cpu fp16"}
    assert len(notes) == 1 and "ort-cpu int8 left out" in notes[0] and "20.0 dB" in notes[0]


def test_every_bundled_file_the_measurement_keeps_agrees_with_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real engines on the bundled default: whatever measure keeps is within AGREE_DB of ONNX Runtime fp32."""
    pytest.importorskip("openvino")  # the skip names the module, so base-install CI runs accept it
    found = cpu_choice.candidates(dict(DEFAULT.files), with_openvino=True)
    outputs = {}
    for candidate in found:
        backend, call = cpu_choice._timer(candidate, 1, 16)
        outputs[candidate.label] = call()
        backend.close()
    ms = cpu_choice.measure(found, 1, tile=16, runs=1)
    reference = outputs["ort-cpu fp32"]
    assert "ort-cpu fp32" in ms
    for label in ms:
        assert cpu_choice.agreement_db(outputs[label], reference) >= cpu_choice.AGREE_DB


@pytest.mark.parametrize(("name", "int8_kernels"), [("oftsr-smfa-x4", False), ("oftsr-flat48x8-x4", True)])
def test_openvino_keeps_its_int8_kernels_only_where_they_compute_the_file(name: str, int8_kernels: bool,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    """OpenVINO's low-precision transforms ran the SMFANet-based int8 files ~30 dB away from the file's own
    arithmetic: the backend checks at open, runs such a file without them (one warning) and keeps them where sound
    (flat48x8). Either way its output agrees with ONNX Runtime fp32 on a tile the check did not see."""
    pytest.importorskip("openvino")
    import warnings

    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path / "cache"))
    from oftsr_edge.runtime.backends.agreement import smooth_tile
    from oftsr_edge.runtime.backends.onnxruntime import OrtBackend
    from oftsr_edge.runtime.backends.openvino import OpenVinoBackend

    models = Path(__file__).resolve().parents[2] / "oftsr_edge" / "models"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = OpenVinoBackend(models / f"{name}_int8.onnx", threads=1)
    said = [str(w.message) for w in caught if "int8 kernels" in str(w.message)]
    assert backend.low_precision is int8_kernels and len(said) == (0 if int8_kernels else 1)
    lr, noise = smooth_tile(24, 4, seed=7)
    reference = OrtBackend(models / f"{name}_fp32.onnx").run(lr, noise, 1.0)
    assert cpu_choice.agreement_db(backend.run(lr, noise, 1.0), reference) >= cpu_choice.AGREE_DB
    backend.close()
    # the verdict is cached per file, OpenVINO and CPU: the next open measures nothing and says the same
    from oftsr_edge.runtime.backends import int8_verdict, openvino

    assert len(json.loads(int8_verdict.cache_path().read_text())["entries"]) == 1

    def measured(*args: object) -> float:
        raise AssertionError("the cached verdict was measured again")

    monkeypatch.setattr(openvino, "agreement_db", measured)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = OpenVinoBackend(models / f"{name}_int8.onnx", threads=1)
    assert again.low_precision is int8_kernels
    assert [str(w.message) for w in caught if "int8 kernels" in str(w.message)] == said
    assert cpu_choice.agreement_db(again.run(lr, noise, 1.0), reference) >= cpu_choice.AGREE_DB
    again.close()
