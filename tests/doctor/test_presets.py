"""The device presets table (runtime/device/devices.py): complete for every module detection can report, ordered by
memory, and chosen per memory size."""

from __future__ import annotations

import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.device.devices import (
    PRESET_NAMES,
    PRESETS,
    choose_preset,
    fit_tile,
    preset,
    preset_for_gpu_memory,
)
from oftsr_edge.runtime.device.jetson import FAMILY_SIZES, MODULES

GIB = 1 << 30


def test_every_detectable_jetson_has_a_preset() -> None:
    keys = {f"{m.family}-{m.memory_gib}gb" for m in MODULES.values()}
    keys |= {f"{family}-{size}gb" for family, sizes in FAMILY_SIZES.items() for size in sizes}
    assert keys <= set(PRESET_NAMES), keys - set(PRESET_NAMES)


def test_one_table_with_unique_names_and_sane_values() -> None:
    assert len(PRESET_NAMES) == len(PRESETS)
    for p in PRESETS:
        assert p.tile % 32 == 0 and p.batch >= 1, p.name  # a multiple of any multiple_of up to 32
        assert 0.25 <= p.workspace_gib <= p.memory_gib / 8, p.name
        if p.shared:  # a Jetson's workspace comes out of RAM the OS and the builder share
            assert p.workspace_gib <= p.memory_gib / 16, p.name


def _groups() -> dict[str, list]:
    groups: dict[str, list] = {}
    for p in PRESETS:
        groups.setdefault(p.name.rsplit("-", 1)[0], []).append(p)
    return groups


@pytest.mark.parametrize("group", sorted(_groups()))
def test_more_memory_never_gets_a_smaller_setting(group: str) -> None:
    rows = sorted(_groups()[group], key=lambda p: p.memory_gib)
    for small, large in zip(rows, rows[1:]):
        assert small.memory_gib < large.memory_gib
        for field in ("workspace_gib", "tile", "batch"):
            assert getattr(small, field) <= getattr(large, field), (small.name, large.name, field)
        assert small.tile * small.tile * small.batch <= large.tile * large.tile * large.batch


@pytest.mark.parametrize(
    ("vram_gib", "name"),
    [(2, "gpu-4gb"), (4, "gpu-4gb"), (5.9, "gpu-4gb"), (6, "gpu-8gb"), (8, "gpu-8gb"), (11.9, "gpu-8gb"),
     (12, "gpu-16gb"), (16, "gpu-16gb"), (20, "gpu-24gb"), (24, "gpu-24gb"), (80, "gpu-24gb"), (139.8, "gpu-24gb")],
)  # fmt: skip
def test_desktop_gpu_class_per_memory_size(vram_gib: float, name: str) -> None:
    assert preset_for_gpu_memory(int(vram_gib * GIB)).name == name


def test_choice_order_name_then_module_then_family_then_gpu() -> None:
    assert choose_preset(name="agx-orin-64gb", jetson_key="orin-nano-4gb").preset.name == "agx-orin-64gb"
    chosen = choose_preset(jetson_key="orin-nano-4gb", gpu_memory_bytes=64 * GIB)
    assert chosen is not None and chosen.preset.name == "orin-nano-4gb" and "orin-nano-4gb" in chosen.why
    by_family = choose_preset(jetson_family="orin-nx", gpu_memory_bytes=int(15.3 * GIB))
    assert by_family is not None and by_family.preset.name == "orin-nx-16gb"
    small = choose_preset(jetson_family="orin-nx", gpu_memory_bytes=int(7.4 * GIB))
    assert small is not None and small.preset.name == "orin-nx-8gb"
    unknown_size = choose_preset(jetson_family="orin-nano")
    assert unknown_size is not None and unknown_size.preset.name == "orin-nano-4gb"  # no memory known: the smallest
    gpu = choose_preset(gpu_memory_bytes=24 * GIB)
    assert gpu is not None and gpu.preset.name == "gpu-24gb" and "24.0 GiB" in gpu.why
    assert choose_preset() is None


def test_unknown_preset_name_is_one_line() -> None:
    with pytest.raises(OftsrError, match="unknown device preset 'orin-huge'.*orin-nano-4gb"):
        preset("orin-huge")


def test_fit_tile_rounds_down_to_the_models_multiple() -> None:
    assert fit_tile(96, 4) == 96 and fit_tile(96, 64) == 64 and fit_tile(100, 8) == 96 and fit_tile(16, 32) == 32
