"""The missing-extra message names what is missing in correct English (one module: "is", several: "are")."""

from __future__ import annotations

import pytest

from oftsr_edge.errors import MissingExtraError
from oftsr_edge.extras import require


def test_missing_modules_are_named_with_the_right_verb() -> None:
    with pytest.raises(MissingExtraError, match=r"needs no_such_a, no_such_b, which are not installed: pip install"):
        require("train", "no_such_a", "no_such_b")
    with pytest.raises(MissingExtraError, match=r"needs no_such_a, which is not installed: pip install"):
        require("train", "no_such_a")
