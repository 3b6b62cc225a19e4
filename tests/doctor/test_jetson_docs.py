"""docs/jetson.md: every ``oftsr-edge`` command in it exists with the options it shows (each one's ``--help`` runs),
its JetPack and preset tables equal the code's, and the table rows the code marks unverified say so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oftsr_edge.runtime.device.devices import PRESETS
from oftsr_edge.runtime.device.jetson import JETPACK_TABLE
from oftsr_edge.runtime.models import default_name
from oftsr_edge.runtime.tiling.memory_plan import MEASURED
from tests.doctor.cli_check import command_problems

DOC = Path(__file__).resolve().parents[2] / "docs" / "jetson.md"


def _commands(text: str) -> list[str]:
    """``oftsr-edge ...`` lines of fenced code blocks and inline code spans."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        found += [line.strip() for line in block.splitlines() if line.strip().startswith("oftsr-edge ")]
    found += [span for span in re.findall(r"`(oftsr-edge [^`]+)`", text)]
    return found


def _table(text: str, header: str) -> list[list[str]]:
    lines = text[text.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_every_command_in_the_doc_exists(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(DOC.read_text(encoding="utf-8"))
    assert len(commands) >= 10
    assert {c.split()[1] for c in commands} >= {"doctor", "build", "export", "upscale", "bench"}
    problems = [p for c in commands for p in command_problems(c, capsys)]
    assert not problems, "\n".join(problems)


def test_the_jetpack_table_is_the_codes() -> None:
    rows = _table(DOC.read_text(encoding="utf-8"), "| L4T | JetPack | CUDA | TensorRT |")
    assert [r[:4] for r in rows] == [[r.l4t, r.jetpack, r.cuda, r.tensorrt] for r in JETPACK_TABLE]
    for doc_row, row in zip(rows, JETPACK_TABLE):
        assert (doc_row[4] == "yes") == row.supported, row.l4t
        assert ("unverified" in doc_row[5]) == (not row.verified), row.l4t


def test_the_preset_table_is_the_codes() -> None:
    rows = _table(DOC.read_text(encoding="utf-8"), "| preset | device | memory |")
    expected = [[f"`{p.name}`", p.label, f"{p.memory_gib} GB" + (" shared" if p.shared else ""),
                 f"{p.workspace_gib:g} GiB", str(p.tile), str(p.batch)] for p in PRESETS]  # fmt: skip
    assert rows == expected


def test_the_memory_per_tile_table_follows_the_tensors_and_the_measured_model() -> None:
    rows = _table(DOC.read_text(encoding="utf-8"), "| tile | I/O tensors |")
    model = MEASURED[(default_name(), "fp32")]
    assert len(rows) >= 4
    for tile, io, ort, _ in rows:
        t = int(tile)
        assert float(io.split()[0]) == pytest.approx(3 * t * t * (1 + 2 * 4 * 4) * 4 / 1e6, abs=0.06), tile
        assert int(ort.split()[0]) == round(model.call_bytes(t * t) / 2**20), tile
