"""Is this a Jetson, which module, which L4T, and so which JetPack, CUDA and TensorRT to expect.

Read from files only (no subprocess, no root), relative to a ``root`` folder so tests can build a fake one:

- ``/etc/nv_tegra_release``: first line ``# R36 (release), REVISION: 4.3, GCID: ..., BOARD: generic, EABI: aarch64,
  DATE: ...`` = L4T 36.4.3 (format as parsed by dusty-nv/jetson-containers:jetson_containers/l4t_version.py and
  rbonghi/jetson_stats:jtop/core/jetson_l4t.py).
- ``/proc/device-tree/model`` (= ``/sys/firmware/devicetree/base/model``): a NUL-terminated board name such as
  ``NVIDIA Jetson AGX Orin Developer Kit``.
- ``/proc/device-tree/compatible``: NUL-separated strings, carrier+module first, e.g.
  ``nvidia,p3768-0000+p3767-0005``, ``nvidia,p3767-0005``, ``nvidia,tegra234`` (Linux
  Documentation/devicetree/bindings/arm/tegra.yaml). The module part number tells the memory size (``MODULES``,
  after jetson_stats' ``MODULE_NAME_TABLE``), otherwise ``MemTotal`` rounded up to the family's nominal sizes.

The L4T → JetPack → CUDA → TensorRT table is :data:`JETPACK_TABLE`; each row names its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from oftsr_edge.errors import OftsrError

GIB = 1 << 30
_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class L4tRelease:
    """An L4T (Jetson Linux) release, e.g. 36.4.3."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def from_nv_tegra_release(cls, text: str) -> L4tRelease:
        """Parse the first line of ``/etc/nv_tegra_release`` (``# R35 (release), REVISION: 4.1, ...``)."""
        match = _RELEASE.search(text.splitlines()[0] if text.strip() else "")
        if not match:
            first = text.strip().splitlines()[0][:80] if text.strip() else ""
            raise OftsrError(f"not an nv_tegra_release line: {first!r}")
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    @classmethod
    def parse(cls, text: str) -> L4tRelease:
        """``"36.4.3"``, ``"R36.4.3"`` or ``"r35.2"``."""
        match = re.fullmatch(r"[rR]?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
        if not match:
            raise OftsrError(f"not an L4T version: {text!r} (expected e.g. 36.4.3)")
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class JetPackRow:
    """What one L4T release ships: JetPack, CUDA and TensorRT versions, and where that fact comes from."""

    l4t: str  # a version prefix: "36.4" matches every 36.4.x, "36.4.3" only itself
    jetpack: str
    cuda: str
    tensorrt: str
    source: str
    verified: bool = True  # False: from one user report or inferred, not from NVIDIA's release notes

    def matches(self, release: L4tRelease) -> bool:
        parts = [int(p) for p in self.l4t.split(".")]
        return list((release.major, release.minor, release.patch))[: len(parts)] == parts

    @property
    def specificity(self) -> int:
        return self.l4t.count(".") + 1

    @property
    def supported(self) -> bool:
        """oftsr-edge needs TensorRT >= 8.5 (the tensor-name API; runtime/backends/tensorrt/versions.py)."""
        nums = re.match(r"(\d+)\.(\d+)", self.tensorrt)
        return bool(nums) and (int(nums[1]), int(nums[2])) >= (8, 5)


_ARCHIVE = "developer.nvidia.com/embedded/jetpack-archive"
_CONTAINERS = "dusty-nv/jetson-containers:jetson_containers/l4t_version.py"
#: L4T → JetPack → CUDA → TensorRT. The most specific matching row wins (36.4.3 before 36.4).
JETPACK_TABLE: tuple[JetPackRow, ...] = (
    JetPackRow("32", "4.x", "10.2", "8.2 or older", f"{_ARCHIVE} (JetPack 4.6.x: TensorRT 8.2.1)"),
    JetPackRow("34", "5.0 DP", "11.4", "8.4", _ARCHIVE),
    JetPackRow("35.1", "5.0.2", "11.4", "8.4.1", f"{_ARCHIVE}; edge-notes §2.4"),
    JetPackRow("35.2", "5.1", "11.4", "8.5.2", f"{_ARCHIVE}; NVIDIA/TensorRT#2737; edge-notes §2.4"),
    JetPackRow("35.3", "5.1.1", "11.4", "8.5.2", _ARCHIVE),
    JetPackRow("35.4", "5.1.2", "11.4", "8.5.2", _ARCHIVE),
    JetPackRow("35.5", "5.1.3", "11.4", "8.5.2", _ARCHIVE),
    JetPackRow("35.6", "5.1.4+", "11.4", "8.5.2", _ARCHIVE),
    JetPackRow("35.6.0", "5.1.4", "11.4", "8.5.2", f"{_ARCHIVE}; rbonghi/jetson_stats:jtop/core/jetson_variables.py"),
    JetPackRow("35.6.1", "5.1.5", "11.4", "8.5.2", _CONTAINERS),
    JetPackRow("35.6.2", "5.1.5", "11.4", "8.5.2", _CONTAINERS),
    JetPackRow("36.2", "6.0 DP", "12.2", "8.6.2", _ARCHIVE),
    JetPackRow("36.3", "6.0", "12.2", "8.6.2", f"{_ARCHIVE}; edge-notes §2.4 (R36.3 = TensorRT 8.6.2.3)"),
    JetPackRow("36.4", "6.1+", "12.6", "10.3", f"{_ARCHIVE}; pytorch.org/TensorRT jetpack page; edge-notes §2.4"),
    JetPackRow("36.4.0", "6.1", "12.6", "10.3", f"{_ARCHIVE}; rbonghi/jetson_stats:jtop/core/jetson_variables.py"),
    JetPackRow("36.4.2", "6.1.1", "12.6", "10.3", _CONTAINERS),
    JetPackRow("36.4.3", "6.2", "12.6", "10.3", f"{_ARCHIVE}; rbonghi/jetson_stats:jtop/core/jetson_variables.py"),
    JetPackRow("36.4.4", "6.2.1", "12.6", "10.3", _CONTAINERS),
    JetPackRow("36.4.7", "6.2.1", "12.6", "10.3", _CONTAINERS),
    JetPackRow("38.2", "7.0", "13.0", "10.13", f"{_CONTAINERS}; edge-notes §2.4 (Thor)"),
    JetPackRow("38.3", "7.1", "13.0", "10.13", f"{_CONTAINERS} (7.1); TensorRT from one user report", False),
    JetPackRow("38.4", "7.1", "13.0", "10.13", "edge-notes §2.4; one user report (TensorRT 10.13.3 on R38.4)", False),
    JetPackRow("39", "7.2", "13.x", "10.16 (11.4.1 installable from 7.2.2)",
               "one user report (R39.2.1: TensorRT 10.16.2, CUDA 13.2); TensorRT 11.4.1 Jetson migration page",
               False),
)  # fmt: skip


def jetpack_for(release: L4tRelease) -> JetPackRow | None:
    """The most specific :data:`JETPACK_TABLE` row for ``release``, or None for an L4T this table does not know."""
    rows = [row for row in JETPACK_TABLE if row.matches(release)]
    return max(rows, key=lambda row: row.specificity) if rows else None


@dataclass(frozen=True)
class Module:
    family: str  # a key of FAMILY_SIZES
    memory_gib: int  # nominal


#: module part number → family and nominal memory (rbonghi/jetson_stats:jtop/core/jetson_variables.py
#: MODULE_NAME_TABLE; NVIDIA/jetson-gpio compatible lists; Linux tegra.yaml for p3834 = Thor T5000)
MODULES: dict[str, Module] = {
    "p3767-0000": Module("orin-nx", 16),
    "p3767-0001": Module("orin-nx", 8),
    "p3767-0003": Module("orin-nano", 8),
    "p3767-0004": Module("orin-nano", 4),
    "p3767-0005": Module("orin-nano", 8),  # the Orin Nano developer kit's module
    "p3701-0000": Module("agx-orin", 32),
    "p3701-0004": Module("agx-orin", 32),
    "p3701-0005": Module("agx-orin", 64),
    "p3701-0008": Module("agx-orin", 64),  # AGX Orin Industrial / IGX Orin
    "p3668-0000": Module("xavier-nx", 8),
    "p3668-0001": Module("xavier-nx", 8),
    "p3668-0003": Module("xavier-nx", 16),
    "p2888-0001": Module("agx-xavier", 16),
    "p2888-0003": Module("agx-xavier", 32),
    "p2888-0004": Module("agx-xavier", 32),
    "p2888-0005": Module("agx-xavier", 64),
    "p2888-0006": Module("agx-xavier", 8),
    "p2888-0008": Module("agx-xavier", 32),
    "p3834-0008": Module("agx-thor", 128),
}

#: nominal memory sizes (GiB) each family is sold with
FAMILY_SIZES: dict[str, tuple[int, ...]] = {
    "orin-nano": (4, 8),
    "orin-nx": (8, 16),
    "agx-orin": (32, 64),
    "xavier-nx": (8, 16),
    "agx-xavier": (8, 16, 32, 64),
    "agx-thor": (128,),
}

#: (words in the device-tree model, family), first match wins ("Orin NX" boards may also say "Nano")
_MODEL_WORDS = (
    ("orin nano", "orin-nano"),
    ("orin nx", "orin-nx"),
    ("agx orin", "agx-orin"),
    ("igx orin", "agx-orin"),
    ("xavier nx", "xavier-nx"),
    ("agx xavier", "agx-xavier"),
    ("jetson-agx", "agx-xavier"),  # L4T 32.x's model string for AGX Xavier
    ("thor", "agx-thor"),
)
_SOC_FAMILY = {"tegra264": "agx-thor"}


@dataclass(frozen=True)
class JetsonInfo:
    """What the files say about this Jetson; any field may be missing (a custom carrier, a container)."""

    model: str
    compatible: tuple[str, ...]
    module: str | None  # part number, e.g. "p3767-0005"
    soc: str | None  # e.g. "tegra234"
    family: str | None
    memory_gib: int | None  # nominal size of this module
    super_mode: bool  # a "-super" device tree (JetPack 6.2 Super power modes)
    l4t: L4tRelease | None
    l4t_error: str
    jetpack: JetPackRow | None
    mem_total_bytes: int | None

    @property
    def preset_key(self) -> str | None:
        """``family-<N>gb`` when both are known, the key of the device presets (runtime/device/devices.py)."""
        return f"{self.family}-{self.memory_gib}gb" if self.family and self.memory_gib else None

    def to_dict(self) -> dict[str, object]:
        row = self.jetpack
        return {
            "model": self.model, "compatible": list(self.compatible), "module": self.module, "soc": self.soc,
            "family": self.family, "memory_gib": self.memory_gib, "super": self.super_mode,
            "l4t": str(self.l4t) if self.l4t else None, "l4t_error": self.l4t_error or None,
            "jetpack": row.jetpack if row else None, "expected_cuda": row.cuda if row else None,
            "expected_tensorrt": row.tensorrt if row else None, "table_source": row.source if row else None,
            "table_verified": row.verified if row else None,
        }  # fmt: skip


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def parse_compatible(raw: str) -> tuple[str, ...]:
    """NUL-separated ``compatible`` strings (a trailing NUL is normal)."""
    return tuple(s.strip() for s in raw.split("\0") if s.strip())


def module_from_compatible(compatible: tuple[str, ...]) -> tuple[str | None, bool]:
    """(module part number, super) from ``nvidia,<carrier>+<module>[-super]`` or ``nvidia,<module>``."""
    for entry in compatible:
        body = entry.split(",", 1)[-1]
        part = body.split("+")[-1]
        match = re.fullmatch(r"(p\d{4}-\d{4})(-super)?", part)
        if match and (match[1] in MODULES or "+" in body):
            return match[1], bool(match[2])
    return None, False


def nominal_memory(family: str | None, mem_total_bytes: int | None) -> int | None:
    """The smallest size the family is sold with that holds ``MemTotal`` (which is a little under nominal)."""
    if not family or not mem_total_bytes or family not in FAMILY_SIZES:
        return None
    gib = mem_total_bytes / GIB
    sizes = FAMILY_SIZES[family]
    return next((size for size in sizes if gib <= size), sizes[-1])


def mem_total(root: Path) -> int | None:
    """``MemTotal`` of ``/proc/meminfo`` in bytes (Jetson: CPU and GPU share it)."""
    text = _read(root / "proc" / "meminfo") or ""
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match[1]) * 1024 if match else None


def detect_jetson(root: str | Path = "/") -> JetsonInfo | None:
    """A :class:`JetsonInfo` when ``root`` looks like a Jetson (an nv_tegra_release file or a Tegra device tree)."""
    root = Path(root)
    release_text = _read(root / "etc" / "nv_tegra_release")
    model = ""
    for place in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        text = _read(root / place)
        if text:
            model = text.replace("\0", "").strip()
            break
    compatible = parse_compatible(_read(root / "proc" / "device-tree" / "compatible") or "")
    soc = next((c.split(",", 1)[1] for c in compatible if re.fullmatch(r"nvidia,tegra\d+", c)), None)
    if release_text is None and soc is None and "jetson" not in model.lower():
        return None

    l4t, l4t_error = None, ""
    if release_text is None:
        l4t_error = "no /etc/nv_tegra_release (a container without it mounted?)"
    else:
        try:
            l4t = L4tRelease.from_nv_tegra_release(release_text)
        except OftsrError as exc:
            l4t_error = str(exc)
    module, super_mode = module_from_compatible(compatible)
    family = MODULES[module].family if module in MODULES else None
    if family is None:
        lowered = model.lower()
        family = next((fam for words, fam in _MODEL_WORDS if words in lowered), _SOC_FAMILY.get(soc or ""))
    total = mem_total(root)
    memory = MODULES[module].memory_gib if module in MODULES else nominal_memory(family, total)
    return JetsonInfo(
        model=model, compatible=compatible, module=module, soc=soc, family=family, memory_gib=memory,
        super_mode=super_mode or model.lower().endswith(" super"), l4t=l4t, l4t_error=l4t_error,
        jetpack=jetpack_for(l4t) if l4t else None, mem_total_bytes=total,
    )  # fmt: skip
