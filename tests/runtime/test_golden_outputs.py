"""The bundled models' outputs on a fixed synthetic image, at two tile sizes and two values of t, are pinned.

Bit for bit where the environment that recorded the hashes is this one (same ONNX Runtime, numpy and instruction set:
tests/runtime/golden.py says why), and everywhere within a bound of the stored reference: rounding flips of one level
on under 0.1 % of the values (PSNR ≥ 60 dB). What the bound lets through and what it rejects is tested here too: a
different seed or t, and even the small seam difference between tiled and whole-image runs, fail it.

Since ort-cpu bakes t into its session (runtime/backends/baked_inputs.py), ONNX Runtime folds the FiLM into the
convolution weights, which rounds differently (|Δ| < 1e-6 before 8-bit rounding). So the ``general`` hashes pin the
general session (``OrtCpu(bake_t=False)``), ``baked`` the default path, and both are bounded against the reference.

A new bundled model fails here until its hashes and reference are recorded on purpose:
``python -m tests.runtime.golden`` (``--references`` to rewrite the reference images), then review the diff.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.runtime import golden

_CACHE: dict[tuple[str, bool], tuple[str, dict[str, np.ndarray]]] = {}


def outputs(name: str, bake_t: bool) -> tuple[str, dict[str, np.ndarray]]:
    """Each model's outputs are computed once per session (the bound and exact tests share them)."""
    if (name, bake_t) not in _CACHE:
        _CACHE[name, bake_t] = golden.outputs(name, bake_t)
    return _CACHE[name, bake_t]


def reference_for(model_sha: str, name: str) -> dict[str, np.ndarray]:
    path = golden.reference_path(golden.load_records(), model_sha)
    if path is None or not path.is_file():
        pytest.fail(f"no golden reference for bundled model {name} ({model_sha[:12]}): record it with "
                    "`python -m tests.runtime.golden` and review the diff")  # fmt: skip
    return golden.load_reference(path)


@pytest.mark.parametrize("bake_t", [False, True], ids=["general", "baked"])
@pytest.mark.parametrize("name", golden.BUNDLED)
def test_bundled_model_outputs_stay_within_the_bound_of_the_reference(name: str, bake_t: bool) -> None:
    model_sha, found = outputs(name, bake_t)
    reference = reference_for(model_sha, name)
    assert sorted(reference) == sorted(found)
    for key, hr in found.items():
        drift = golden.drift(golden.sample(hr), reference[key])
        assert drift.within(), f"{name} {key}: {drift} (bound {golden.BOUND})"


@pytest.mark.parametrize("bake_t", [False, True], ids=["general", "baked"])
@pytest.mark.parametrize("name", golden.BUNDLED)
def test_bundled_model_outputs_are_bit_identical_where_the_environment_was_recorded(name: str, bake_t: bool) -> None:
    """Exact where exact: on the recording environment any changed pixel fails. Elsewhere the bound above holds
    and the exact pin has nothing to compare with (never a comparison of bits across machines)."""
    model_sha, found = outputs(name, bake_t)
    records = golden.load_records()
    assert any(r["model_sha256"] == model_sha for r in records["hashes"]), (
        f"no golden hashes for bundled model {name} ({model_sha[:12]}): `python -m tests.runtime.golden`"
    )
    record = golden.exact_record(records, model_sha, golden.environment())
    if record is not None:
        assert golden.hashes_of(found) == record["baked" if bake_t else "general"]


@pytest.mark.parametrize("name", golden.BUNDLED)
def test_the_t_baked_default_path_stays_within_one_level_of_the_general_session(name: str) -> None:
    _, baked = outputs(name, bake_t=True)
    _, general = outputs(name, bake_t=False)
    for key in general:
        assert golden.drift(baked[key], general[key]).within(), key  # rounding flips only, and rare


@pytest.mark.parametrize("name", golden.BUNDLED)
def test_the_bound_rejects_the_seam_difference_of_tiling(name: str) -> None:
    """Tiled (32) and whole-image (0) runs differ by one level on 0.25–1 % of values: the kind of change a refactor
    of tiling or blending makes, and the bound must not let it through."""
    model_sha, found = outputs(name, bake_t=False)
    reference = reference_for(model_sha, name)
    for t in (0.0, 0.7):
        drift = golden.drift(golden.sample(found[f"32/{t}"]), reference[f"0/{t}"])
        assert not drift.within(), f"{name} t={t}: tile 32 passes as whole-image ({drift})"


def test_the_bound_rejects_another_seed_or_t() -> None:
    name = "oftsr-real-x4"
    model_sha, found = golden.outputs(name, bake_t=False, seed=8)
    reference = reference_for(model_sha, name)
    for key, hr in found.items():
        assert not golden.drift(golden.sample(hr), reference[key]).within(), f"seed 8 passes as seed 7 at {key}"
    _, ours = outputs(name, bake_t=False)
    assert not golden.drift(golden.sample(ours["0/0.7"]), reference["0/0.0"]).within(), "t=0.7 passes as t=0"


def test_drift_counts_levels_fractions_and_psnr() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (72, 88, 3), dtype=np.uint8)
    same = golden.drift(reference.copy(), reference)
    assert same.max_abs == 0 and same.fraction == 0 and same.psnr_db == float("inf") and same.within()
    flips = reference.astype(np.int16).ravel()
    few = rng.choice(flips.size, 10, replace=False)  # 0.05 % of 19008 values, one level each
    flips[few] = np.where(flips[few] < 255, flips[few] + 1, flips[few] - 1)
    rare = golden.drift(flips.reshape(reference.shape).astype(np.uint8), reference)
    assert rare.max_abs == 1 and rare.within()
    many = reference.astype(np.int16).ravel()
    idx = rng.choice(many.size, 40, replace=False)  # 0.21 %
    many[idx] = np.where(many[idx] < 255, many[idx] + 1, many[idx] - 1)
    assert not golden.drift(many.reshape(reference.shape).astype(np.uint8), reference).within()
    two = reference.copy()
    two[5, 5, 0] = two[5, 5, 0] + 2 if two[5, 5, 0] < 254 else two[5, 5, 0] - 2
    assert golden.drift(two, reference).max_abs == 2 and not golden.drift(two, reference).within()
    with pytest.raises(ValueError, match="shape"):
        golden.drift(reference[:-1], reference)


def test_the_environment_names_what_the_bits_depend_on() -> None:
    env = golden.environment()
    assert set(env) == {"onnxruntime", "numpy", "machine", "isa"}
    assert env["isa"], "numpy reports no CPU features: exact pins would match across different CPUs"
    other = {**env, "isa": env["isa"] + ",AVX512F_PRETEND"}
    records = {"hashes": [{"model_sha256": "x", "environment": other}], "references": {}}
    assert golden.exact_record(records, "x", env) is None and golden.exact_record(records, "x", other) is not None
