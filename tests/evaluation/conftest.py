"""Evaluation tests run the same whatever the developer's shell exports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _no_dists_from_the_shell() -> Iterator[None]:
    """``eval`` reads ``$OFTSR_DISTS_WEIGHTS`` as ``--dists-weights``: exported for the opt-in DISTS tests, it would
    add DISTS to every eval here (slower, and an error where it names the wheel alone). Session-wide, so the
    module-scoped eval runs see it gone too; tests that want DISTS pass the flag or set the variable themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("OFTSR_DISTS_WEIGHTS", raising=False)
        yield
