"""The one check of each option value: t, seed and whole-number knobs, each a one-line OptionError."""

from __future__ import annotations

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.checks import check_int, check_seed, check_t
from oftsr_edge.runtime.settings import draw_seed


def test_t_is_a_number_in_the_unit_interval() -> None:
    assert check_t(0) == 0.0 and check_t(1) == 1.0 and check_t(np.float32(0.25)) == 0.25
    for bad in (-0.01, 1.01, float("nan"), float("inf"), "high", None):
        with pytest.raises(OptionError, match="t must") as info:
            check_t(bad)
        assert "\n" not in str(info.value)


def test_seed_validation() -> None:
    assert isinstance(draw_seed(), int)
    assert draw_seed() != draw_seed()  # fresh entropy each time (a collision is 2**-64)
    assert check_seed(2**64 - 1) == 2**64 - 1 and check_seed(np.uint32(7)) == 7
    for bad in (-1, 2**64, 1.5, "3", True):
        with pytest.raises(OptionError, match="seed must"):
            check_seed(bad)  # type: ignore[arg-type]


def test_whole_numbers() -> None:
    assert check_int("tile", 0, 0) == 0 and check_int("batch", np.int64(3), 1) == 3
    assert type(check_int("batch", np.int64(3), 1)) is int
    for bad in (-1, 0.0, "2", True, None):
        with pytest.raises(OptionError, match=r"batch must be an integer ≥ 0"):
            check_int("batch", bad, 0)
    with pytest.raises(OptionError, match=r"≥ 1, got 0"):
        check_int("batch", 0, 1)


def test_an_option_error_is_a_user_error() -> None:
    assert issubclass(OptionError, OftsrError)  # the CLI prints it as one line, exit 2
