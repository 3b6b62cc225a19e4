"""Jetson detection and the L4T → JetPack → CUDA → TensorRT table, on the files a Jetson really has.

Each fake root holds the three files :func:`detect_jetson` reads, with contents in their real formats:

- ``/etc/nv_tegra_release`` first lines as printed on devices: "# R35 (release), REVISION: 3.1, GCID: 32790763,
  BOARD: t186ref, EABI: aarch64, DATE: Wed Mar 15 07:54:12 UTC 2023" is quoted in
  dusty-nv/jetson-containers:jetson_containers/l4t_version.py (``get_l4t_version``), the R36.4.3 line with
  ``BOARD: generic`` comes from an Orin Nano Super log quoting ``head -n 1 /etc/nv_tegra_release``; the
  ``# KERNEL_VARIANT: oot`` / ``TARGET_USERSPACE_LIB_DIR`` lines follow jetson-containers' ``nv_tegra_release()``.
- device-tree ``model`` strings (NUL-terminated): "NVIDIA Jetson Orin NX Engineering Reference Developer Kit" and its
  ``compatible`` list from Linux arch/arm64/boot/dts/nvidia/tegra234-p3768-0000+p3767-0000.dts; "NVIDIA Jetson Orin
  Nano Engineering Reference Developer Kit Super" (``cat /proc/device-tree/model`` on a JetPack 6.2 kit);
  ``nvidia,p3737-0000+p3701-0005`` (AGX Orin 64 GB) and ``nvidia,p3509-0000+p3668-0001`` (Xavier NX) from
  NVIDIA/jetson-gpio lib/python/Jetson/GPIO/gpio_pin_data.py; "Jetson-AGX" / ``nvidia,p2972-0000`` (AGX Xavier
  on L4T 32.x) from the same file's ``compats_xavier`` and jetson_stats' notes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.device.jetson import (
    JETPACK_TABLE,
    MODULES,
    L4tRelease,
    detect_jetson,
    jetpack_for,
    module_from_compatible,
    nominal_memory,
    parse_compatible,
)

GIB = 1 << 30
R35_3_1 = "# R35 (release), REVISION: 3.1, GCID: 32790763, BOARD: t186ref, EABI: aarch64, DATE: Wed Mar 15 07:54:12 UTC 2023\n"
R36_4_3 = (
    "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n"
    "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n"
    "TARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n"
)
R32_7_1 = "# R32 (release), REVISION: 7.1, GCID: 29689809, BOARD: t186ref, EABI: aarch64, DATE: Wed Feb  2 21:33:23 UTC 2022\n"


def fake_root(
    tmp: Path,
    release: str | None,
    model: str | None,
    compatible: list[str] | None,
    mem_total_gib: float | None = None,
) -> Path:
    if release is not None:
        (tmp / "etc").mkdir(parents=True, exist_ok=True)
        (tmp / "etc" / "nv_tegra_release").write_text(release)
    tree = tmp / "proc" / "device-tree"
    if model is not None:
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "model").write_bytes(model.encode() + b"\0")
    if compatible is not None:
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "compatible").write_bytes(b"".join(c.encode() + b"\0" for c in compatible))
    if mem_total_gib is not None:
        (tmp / "proc").mkdir(parents=True, exist_ok=True)
        kb = int(mem_total_gib * GIB / 1024)
        (tmp / "proc" / "meminfo").write_text(f"MemTotal:       {kb} kB\nMemFree:         123456 kB\n")
    return tmp


def test_l4t_release_lines_parse_in_their_real_format() -> None:
    assert L4tRelease.from_nv_tegra_release(R35_3_1) == L4tRelease(35, 3, 1)
    assert L4tRelease.from_nv_tegra_release(R36_4_3) == L4tRelease(36, 4, 3)
    assert L4tRelease.from_nv_tegra_release(R32_7_1) == L4tRelease(32, 7, 1)
    assert str(L4tRelease.parse("R36.4.3")) == "36.4.3" and L4tRelease.parse("35.2") == L4tRelease(35, 2, 0)
    for bad in ("", "hello", "R36 (release), REVISION"):
        with pytest.raises(OftsrError):
            L4tRelease.from_nv_tegra_release(bad)


@pytest.mark.parametrize(
    ("l4t", "jetpack", "cuda", "tensorrt", "supported"),
    [
        ("35.2.1", "5.1", "11.4", "8.5.2", True),
        ("35.3.1", "5.1.1", "11.4", "8.5.2", True),
        ("35.4.1", "5.1.2", "11.4", "8.5.2", True),
        ("35.6.0", "5.1.4", "11.4", "8.5.2", True),
        ("36.3.0", "6.0", "12.2", "8.6.2", True),
        ("36.4.0", "6.1", "12.6", "10.3", True),
        ("36.4.3", "6.2", "12.6", "10.3", True),
        ("36.4.4", "6.2.1", "12.6", "10.3", True),
        ("36.4.9", "6.1+", "12.6", "10.3", True),  # an unlisted 36.4.x falls back to the 36.4 row
        ("38.2.0", "7.0", "13.0", "10.13", True),
        ("35.1.0", "5.0.2", "11.4", "8.4.1", False),  # TensorRT 8.4: older than oftsr-edge supports
        ("32.7.1", "4.x", "10.2", "8.2 or older", False),
    ],
)
def test_l4t_to_jetpack_cuda_tensorrt(l4t: str, jetpack: str, cuda: str, tensorrt: str, supported: bool) -> None:
    row = jetpack_for(L4tRelease.parse(l4t))
    assert row is not None
    assert (row.jetpack, row.cuda, row.tensorrt, row.supported) == (jetpack, cuda, tensorrt, supported)
    assert row.source  # every fact says where it is from


def test_unknown_l4t_has_no_row_and_every_row_is_reachable() -> None:
    assert jetpack_for(L4tRelease(40, 1, 0)) is None and jetpack_for(L4tRelease(33, 0, 0)) is None
    for row in JETPACK_TABLE:
        parts = [int(p) for p in row.l4t.split(".")]
        probe = L4tRelease(*(parts + [9, 9])[:3]) if len(parts) < 3 else L4tRelease(*parts)
        assert jetpack_for(probe) == row, row.l4t  # a prefix row answers for the releases no exact row names


def test_orin_nano_super_on_jetpack_6_2(tmp_path: Path) -> None:
    root = fake_root(
        tmp_path, R36_4_3, "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
        ["nvidia,p3768-0000+p3767-0005-super", "nvidia,p3767-0005", "nvidia,tegra234"], mem_total_gib=7.4,
    )  # fmt: skip
    info = detect_jetson(root)
    assert info is not None
    assert (info.family, info.memory_gib, info.module, info.soc) == ("orin-nano", 8, "p3767-0005", "tegra234")
    assert info.super_mode and info.preset_key == "orin-nano-8gb"
    assert str(info.l4t) == "36.4.3" and info.jetpack is not None
    assert (info.jetpack.jetpack, info.jetpack.tensorrt, info.jetpack.cuda) == ("6.2", "10.3", "12.6")
    data = info.to_dict()
    assert data["expected_tensorrt"] == "10.3" and data["model"].endswith("Super") and "\0" not in data["model"]


def test_orin_nx_16gb_from_the_kernel_device_tree(tmp_path: Path) -> None:
    root = fake_root(
        tmp_path, R35_3_1, "NVIDIA Jetson Orin NX Engineering Reference Developer Kit",
        ["nvidia,p3768-0000+p3767-0000", "nvidia,p3767-0000", "nvidia,tegra234"],
    )  # fmt: skip
    info = detect_jetson(root)
    assert info is not None and info.preset_key == "orin-nx-16gb" and not info.super_mode
    assert info.jetpack is not None and info.jetpack.tensorrt == "8.5.2"


@pytest.mark.parametrize(
    ("compatible", "model", "key"),
    [
        (["nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234"],
         "NVIDIA Jetson AGX Orin Developer Kit", "agx-orin-64gb"),
        (["nvidia,p3737-0000+p3701-0004", "nvidia,p3701-0004", "nvidia,tegra234"],
         "NVIDIA Jetson AGX Orin Developer Kit", "agx-orin-32gb"),
        (["nvidia,p3768-0000+p3767-0004", "nvidia,p3767-0004", "nvidia,tegra234"],
         "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit", "orin-nano-4gb"),
        (["nvidia,p3768-0000+p3767-0001", "nvidia,p3767-0001", "nvidia,tegra234"],
         "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "orin-nx-8gb"),
        (["nvidia,p3509-0000+p3668-0001", "nvidia,tegra194"], "NVIDIA Jetson Xavier NX Developer Kit",
         "xavier-nx-8gb"),
        (["nvidia,p3449-0000+p3668-0003", "nvidia,tegra194"], "NVIDIA Jetson Xavier NX Developer Kit",
         "xavier-nx-16gb"),
    ],
)  # fmt: skip
def test_module_part_number_decides_the_memory_size(
    tmp_path: Path, compatible: list[str], model: str, key: str
) -> None:
    info = detect_jetson(fake_root(tmp_path, R35_3_1, model, compatible, mem_total_gib=3.0))
    assert info is not None and info.preset_key == key  # MemTotal (3 GiB here) does not override the module


def test_without_a_module_number_the_model_and_memtotal_decide(tmp_path: Path) -> None:
    """AGX Xavier on L4T 32.x: model "Jetson-AGX", compatible names only the carrier board."""
    root = fake_root(tmp_path, R32_7_1, "Jetson-AGX", ["nvidia,p2972-0000", "nvidia,tegra194"], mem_total_gib=31.0)
    info = detect_jetson(root)
    assert info is not None and info.module is None
    assert info.preset_key == "agx-xavier-32gb"
    assert info.jetpack is not None and not info.jetpack.supported


def test_nominal_memory_rounds_memtotal_up_to_a_sold_size() -> None:
    assert nominal_memory("orin-nano", int(7.4 * GIB)) == 8
    assert nominal_memory("orin-nano", int(3.3 * GIB)) == 4
    assert nominal_memory("agx-orin", int(61.4 * GIB)) == 64
    assert nominal_memory("agx-thor", int(120 * GIB)) == 128
    assert nominal_memory("agx-orin", int(70 * GIB)) == 64  # more than any size: the largest
    assert nominal_memory(None, GIB) is None and nominal_memory("orin-nx", None) is None


def test_compatible_parsing() -> None:
    assert parse_compatible("nvidia,p3768-0000+p3767-0005\0nvidia,p3767-0005\0nvidia,tegra234\0") == (
        "nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234",
    )  # fmt: skip
    assert module_from_compatible(("nvidia,p3768-0000+p3767-0000-super", "nvidia,p3767-0000")) == ("p3767-0000", True)
    assert module_from_compatible(("nvidia,p2972-0000", "nvidia,tegra194")) == (None, False)  # a carrier, not a module
    assert module_from_compatible(("raspberrypi,4-model-b",)) == (None, False)
    assert all(m.family and m.memory_gib > 0 for m in MODULES.values())


def test_not_a_jetson(tmp_path: Path) -> None:
    assert detect_jetson(tmp_path) is None
    assert detect_jetson(fake_root(tmp_path, None, "Raspberry Pi 4 Model B Rev 1.4", ["raspberrypi,4-model-b"],
                                   mem_total_gib=4)) is None  # fmt: skip


def test_a_container_without_nv_tegra_release_is_still_a_jetson(tmp_path: Path) -> None:
    root = fake_root(tmp_path, None, "NVIDIA Jetson AGX Orin Developer Kit",
                     ["nvidia,p3737-0000+p3701-0000", "nvidia,p3701-0000", "nvidia,tegra234"])  # fmt: skip
    info = detect_jetson(root)
    assert info is not None and info.l4t is None and info.jetpack is None
    assert "nv_tegra_release" in info.l4t_error and info.preset_key == "agx-orin-32gb"


def test_a_garbled_release_file_is_reported_not_raised(tmp_path: Path) -> None:
    root = fake_root(tmp_path, "garbage\n", "NVIDIA Jetson AGX Orin Developer Kit", ["nvidia,tegra234"])
    info = detect_jetson(root)
    assert info is not None and info.l4t is None and "not an nv_tegra_release line" in info.l4t_error
    assert info.family == "agx-orin" and info.memory_gib is None and info.preset_key is None
