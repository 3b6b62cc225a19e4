"""Profile shapes derived from tile, batch and scale (lr, noise, t always consistent)."""

from __future__ import annotations

import pytest

from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR, ModelSpec, io_shapes
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt.profiles import (
    ProfileShapes,
    check_run_shapes,
    make_profile,
    parse_lr_shape,
    split_batches,
    tensor_shapes,
)


def test_default_profile_is_a_fixed_tile_with_batch_from_one() -> None:
    p = make_profile(4, 8, tile=128, batch=4)
    assert (p.min, p.opt, p.max) == ((1, 128, 128), (4, 128, 128), (4, 128, 128))
    shapes = p.per_input()
    assert shapes[INPUT_LR] == ((1, 3, 128, 128), (4, 3, 128, 128), (4, 3, 128, 128))
    assert shapes[INPUT_NOISE] == ((1, 3, 512, 512), (4, 3, 512, 512), (4, 3, 512, 512))
    assert shapes[INPUT_T] == ((1,), (4,), (4,))
    assert p.max_batch == 4


def test_tensor_shapes_follow_the_contract() -> None:
    assert tensor_shapes(2, 16, 24, 2) == {
        INPUT_LR: (2, 3, 16, 24), INPUT_NOISE: (2, 3, 32, 48), INPUT_T: (2,), OUTPUT_HR: (2, 3, 32, 48)
    }  # fmt: skip
    spec = ModelSpec(
        name="m", scale=4, sigma_p=0.2, multiple_of=8, default_t=0.5, precision="fp32", opset=18, tile=64,
        degradation="bicubic", checkpoint_sha256="ab" * 32,
    )  # fmt: skip
    assert tensor_shapes(3, 64, 96, spec.scale) == io_shapes(spec, 3, 64, 96)


@pytest.mark.parametrize(
    "text", ["2x3x64x96", "2,3,64,96", "lr:2x3x64x96", "[2, 3, 64, 96]", (2, 3, 64, 96), "(2,3,64,96)"]
)
def test_parse_lr_shape_forms(text: object) -> None:
    assert parse_lr_shape(text) == (2, 64, 96)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2x4x64x64", "2x3x64", "ax3x64x64", ""])
def test_parse_lr_shape_rejects(text: str) -> None:
    with pytest.raises(OftsrError):
        parse_lr_shape(text)


def test_overrides_and_validation() -> None:
    p = make_profile(4, 8, tile=128, batch=2, min_shape="1x3x64x64", max_shape="2x3x256x256")
    assert (p.min, p.opt, p.max) == ((1, 64, 64), (2, 128, 128), (2, 256, 256))
    with pytest.raises(OftsrError, match="min <= opt <= max"):
        make_profile(4, 8, tile=128, batch=4, max_shape="2x3x128x128")
    with pytest.raises(OftsrError, match="multiple of the model's 8"):
        make_profile(4, 8, tile=100)
    with pytest.raises(OftsrError, match="positive"):
        make_profile(4, 8, tile=128, batch=0)
    with pytest.raises(OftsrError, match="non-positive"):
        make_profile(4, 1, tile=8, min_shape="0x3x8x8")


def test_dict_round_trip_and_bad_dicts() -> None:
    p = make_profile(2, 4, tile=32, batch=3)
    assert ProfileShapes.from_dict(p.to_dict()) == p
    with pytest.raises(OftsrError, match="bad profile"):
        ProfileShapes.from_dict({"scale": 2, "min": [1, 2], "opt": [1, 2, 2], "max": [1, 2, 2]})
    with pytest.raises(OftsrError, match="bad profile"):
        ProfileShapes.from_dict({"min": [1, 2, 2]})


def test_check_run_shapes() -> None:
    p = make_profile(4, 8, tile=32, batch=2)
    check_run_shapes(p, (5, 3, 32, 32), (5, 3, 128, 128), (5,))  # batch above max is split by the caller
    with pytest.raises(OftsrError, match="noise must be"):
        check_run_shapes(p, (1, 3, 32, 32), (1, 3, 64, 64), (1,))
    with pytest.raises(OftsrError, match="t must be"):
        check_run_shapes(p, (2, 3, 32, 32), (2, 3, 128, 128), (1,))
    with pytest.raises(OftsrError, match="outside the engine's profile"):
        check_run_shapes(p, (1, 3, 64, 64), (1, 3, 256, 256), (1,))
    with pytest.raises(OftsrError, match=r"\(N, 3, h, w\)"):
        check_run_shapes(p, (1, 1, 32, 32), (1, 1, 128, 128), (1,))


def test_split_batches() -> None:
    assert split_batches(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert split_batches(4, 4) == [(0, 4)]
    assert split_batches(0, 4) == []
    with pytest.raises(ValueError):
        split_batches(3, 0)


def test_describe_names_lr_shapes() -> None:
    assert make_profile(4, 1, tile=16, batch=2).describe() == "min 1x3x16x16, opt 2x3x16x16, max 2x3x16x16"
