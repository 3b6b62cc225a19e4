"""The bundled models' outputs are pinned bit for bit: a refactor of the runtime must not change a single pixel.

The hashes were made with the runtime as it stood before the architecture rework (issue 10), at two tile sizes and
two values of t, on a synthetic LR image (no dataset pixels). They are keyed by the bundled model's sha256, so a new
bundled model fails here until its hashes are recorded on purpose: `python -m tests.runtime.test_golden_outputs`
(prints every bundled model's entry).

Since ort-cpu bakes t into its session (runtime/backends/baked_inputs.py), ONNX Runtime folds the FiLM into the
convolution weights, which rounds differently (|Δ| < 1e-6 before 8-bit rounding). So the hashes below pin the general
session (``OrtCpu(bake_t=False)``: nothing else may change a pixel), ``BAKED`` pins the default path where it
differs, and a test bounds how far the two may drift apart.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

from oftsr_edge.fileio import sha256_file

# model sha256 -> {(tile, t): sha256 of the uint8 HR array}
GOLDEN: dict[str, dict[str, str]] = {
    "97fd38ee80ec1f1940db800954d2d5351abf78ffa0a84cb89c891a892d494aa0": {  # oftsr-small-x4, first session
        "0/0.0": "9f58e47c69ee1e14df537fa41110840fbb1c29ea18fc7e4939d8bd9acc297288",
        "0/0.7": "ef210349e2a570e1854e01297c323fa42e91121adcbf55a424c672a021553cc5",
        "32/0.0": "80e4f572cfddea3c57c025d7c994f0480ad64d357b430739a42042b7e40db6ad",
        "32/0.7": "df2acae0780c94e8ee5942570760367d77c74e49731cbcee69c7e01f1936dcaf",
    },
    "b9f358da3021a96981f548d6d4cea401293f77af8571f09a681175606951c43f": {  # oftsr-flat48x8-x4, default since 2026-12-01 (v2)
        "0/0.0": "d52038b36b9afe4ffc3e8bbb856e67749ec9f6de739430d4c61966e0c0c0b224",
        "0/0.7": "39f2c98e8bcfbb9b53dceaaf15ac0d9a3ab78c8b39fbade28f1af7fe89e231cf",
        "32/0.0": "96f35099ca6f76ea878fab76197b1f6c735b9d1f6a03de163a00af66b6108d82",
        "32/0.7": "7021b7b234444266936230c311f006e569d2b3adb47852d6af14d9a3a6e78677",
    },
    "b33a349851d32008d6b2a349262b103a9bef2a0690ac4cff8efdfdbbc173141b": {  # oftsr-real-x4 v3 (realesrgan-mix, lambda_bc 1)
        "0/0.0": "a61a36089f217b0d22480721d6b7048c1aa633ba784bf8e3bb142d75fc537dda",
        "0/0.7": "af9abdc89de48d06a7d7959c1d25107d456de683c69b873edc6af6dc87015807",
        "32/0.0": "c5ab0857b2fa3f029aef54ed4cf951245528598c5c467683e703b72ae7592171",
        "32/0.7": "1d57f6b27f736bb79817086416bfd66d509bad3fbe51102840ec6d1d32f70831",
    },
}
# the same, for the default (t-baked) ort-cpu session: only the cases whose 8-bit output differs from the general's
BAKED: dict[str, dict[str, str]] = {
    "b9f358da3021a96981f548d6d4cea401293f77af8571f09a681175606951c43f": {  # oftsr-flat48x8-x4 (v2)
        "0/0.0": "b4b40d0314021a275c518f9ee99b970f2c07729a24cac4936fa23bab209777c4",
        "0/0.7": "a2aa9c39e33f20480fd941251cff510454e886360cb20ef1487888856f7d0ba4",
        "32/0.0": "b8dc8e54309015b3eb09b1a7126a8281543436cda7e7c11618058721e06ef2bb",
        "32/0.7": "5918cce6bc1fc713ff684c81f41faac61bc2e88e638a62cd1eeabc1bf30ece93",
    },
    "b33a349851d32008d6b2a349262b103a9bef2a0690ac4cff8efdfdbbc173141b": {  # oftsr-real-x4 v3
        "0/0.7": "5d3ab8093504fe3fed59364fdf1a4a11d48c52b6c7e626c0b23eb82964142a3a",
        "32/0.7": "d73c272c6aa66991e1d3dbbdd82961a92e389611aa97ebf1b1021dc23c52d7d8",
    },
}
CASES = [(0, 0.0), (0, 0.7), (32, 0.0), (32, 0.7)]


def synthetic_lr() -> np.ndarray:
    """A 72×88 RGB image with edges, gradients and texture, the same on every machine."""
    rng = np.random.default_rng(1234)
    y, x = np.mgrid[0:72, 0:88].astype(np.float32)
    base = 128 + 60 * np.sin(x / 7.0)[..., None] * np.cos(y / 5.0)[..., None] * np.array([1.0, 0.6, -0.4])
    base[20:50, 30:60] += 50
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


BUNDLED = ["oftsr-small-x4", "oftsr-flat48x8-x4", "oftsr-real-x4"]


def outputs(name: str, bake_t: bool) -> tuple[str, dict[str, np.ndarray]]:
    from oftsr_edge.runtime import Upscaler
    from oftsr_edge.runtime.backends.options import OrtCpu
    from oftsr_edge.runtime.models import resolve_model

    path = resolve_model(name)  # by name, through the registry
    lr = synthetic_lr()
    found = {}
    for tile, t in CASES:
        with Upscaler(path, tile=tile, backend=OrtCpu(bake_t=bake_t)) as up:
            found[f"{tile}/{t}"] = up.upscale(lr, t=t, seed=7)
    return sha256_file(path), found


def hashes_of(found: dict[str, np.ndarray]) -> dict[str, str]:
    return {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in found.items()}


def output_hashes(name: str, bake_t: bool = False) -> tuple[str, dict[str, str]]:
    sha, found = outputs(name, bake_t)
    return sha, hashes_of(found)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_outputs_are_bit_identical(name: str) -> None:
    model_sha, hashes = output_hashes(name)
    if model_sha not in GOLDEN:
        pytest.fail(f"no golden hashes for bundled model {name} ({model_sha[:12]}): record them with "
                    "`python -m tests.runtime.test_golden_outputs` and review the diff")
    assert hashes == GOLDEN[model_sha]


@pytest.mark.parametrize("name", BUNDLED)
def test_the_t_baked_default_path_is_pinned_too_and_stays_within_one_level(name: str) -> None:
    model_sha, baked = outputs(name, bake_t=True)
    _, general = outputs(name, bake_t=False)
    for key in general:
        diff = np.abs(baked[key].astype(np.int16) - general[key].astype(np.int16))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, key  # rounding flips only, and rare
    assert hashes_of(baked) == {**GOLDEN[model_sha], **BAKED.get(model_sha, {})}


if __name__ == "__main__":
    for table, bake in (("GOLDEN", False), ("BAKED", True)):
        print(f"{table}:")
        for bundled in BUNDLED:
            sha, found = output_hashes(bundled, bake)
            if bake:
                found = {k: v for k, v in found.items() if GOLDEN.get(sha, {}).get(k) != v}
            print(f'    "{sha}": {{  # {bundled}')
            for key, value in found.items():
                print(f'        "{key}": "{value}",')
            print("    },")
    sys.exit(0)
