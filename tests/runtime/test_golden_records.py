"""Recording golden outputs forgets the records of model files that are no longer bundled (a re-exported model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime import golden


def test_drop_replaced_forgets_hashes_and_reference_images_of_replaced_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golden, "HERE", tmp_path)
    for name in ("m-old.png", "m-new.png", "other.png"):
        (tmp_path / name).write_bytes(b"png")
    records = {
        "references": {"old": "m-old.png", "new": "m-new.png", "keep": "other.png"},
        "hashes": [{"model_sha256": sha, "model": "m"} for sha in ("old", "new", "keep", "new")],
    }
    golden._drop_replaced(records, {"new", "keep"})
    assert records["references"] == {"new": "m-new.png", "keep": "other.png"}
    assert [r["model_sha256"] for r in records["hashes"]] == ["new", "keep", "new"]  # other machines' records stay
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-new.png", "other.png"]
