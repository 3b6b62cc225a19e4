"""Memory presets per device: the one table of builder workspace, engine tile and batch for every device class.

``oftsr-edge build`` takes its ``--workspace``, ``--tile`` and ``--batch-size`` defaults from the preset of this
machine (flags override each value), and ``oftsr-edge doctor`` prints the preset and the build line it implies.

Why these numbers (starting points, not measurements on the devices — docs/jetson.md marks them unverified):

- workspace: TensorRT's scratch for tactic timing. On a Jetson it comes out of the RAM that the OS, the builder
  and the CUDA libraries share, and an engine build killed for memory is the most reported Jetson failure
  (edge-notes §1.8: jetson-containers #598, jkjung-avt/tensorrt_demos #293), so it stays at most 1/16 of the
  shared memory (at least 256 MiB); a desktop GPU's at most 1/8 of its VRAM.
- tile and batch: the engine's profile (max = batch × tile², runtime/backends/tensorrt/profiles.py). Per LR tile
  the graph's I/O is 3·t²·(1 + 2·s²)·4 bytes (6.5 MB at t = 128, s = 4) and ONNX Runtime on CPU grew 48 MiB running
  the default model at tile 128 (benchmarks/README.md); activations grow with t², so small-memory devices keep
  t ≤ 128 and batch 1–2, large ones use 256 and batch up to 8 (GPU throughput needs several tiles in flight).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from oftsr_edge.errors import OftsrError

GIB = 1 << 30


@dataclass(frozen=True)
class DevicePreset:
    name: str
    label: str
    memory_gib: int  # nominal memory: shared RAM on a Jetson, VRAM on a desktop GPU
    shared: bool  # CPU and GPU share this memory (Jetson)
    workspace_gib: float  # TensorRT builder workspace (MemoryPoolType.WORKSPACE)
    tile: int  # LR tile edge of the engine profile
    batch: int  # tiles per engine call (profile max N)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _p(name: str, label: str, memory: int, shared: bool, workspace: float, tile: int, batch: int) -> DevicePreset:
    return DevicePreset(name, label, memory, shared, workspace, tile, batch)


#: THE table. Jetson rows are keyed ``<family>-<N>gb`` (runtime/device/jetson.py); ``gpu-*`` rows are desktop classes by VRAM.
PRESETS: tuple[DevicePreset, ...] = (
    _p("orin-nano-4gb", "Jetson Orin Nano 4 GB", 4, True, 0.25, 128, 1),
    _p("orin-nano-8gb", "Jetson Orin Nano 8 GB", 8, True, 0.5, 128, 2),
    _p("orin-nx-8gb", "Jetson Orin NX 8 GB", 8, True, 0.5, 128, 2),
    _p("orin-nx-16gb", "Jetson Orin NX 16 GB", 16, True, 1.0, 192, 2),
    _p("agx-orin-32gb", "Jetson AGX Orin 32 GB", 32, True, 2.0, 256, 4),
    _p("agx-orin-64gb", "Jetson AGX Orin 64 GB", 64, True, 4.0, 256, 8),
    _p("xavier-nx-8gb", "Jetson Xavier NX 8 GB", 8, True, 0.5, 128, 1),
    _p("xavier-nx-16gb", "Jetson Xavier NX 16 GB", 16, True, 1.0, 128, 2),
    _p("agx-xavier-8gb", "Jetson AGX Xavier 8 GB", 8, True, 0.5, 128, 1),
    _p("agx-xavier-16gb", "Jetson AGX Xavier 16 GB", 16, True, 1.0, 192, 2),
    _p("agx-xavier-32gb", "Jetson AGX Xavier 32 GB", 32, True, 2.0, 256, 4),
    _p("agx-xavier-64gb", "Jetson AGX Xavier 64 GB", 64, True, 4.0, 256, 4),
    _p("agx-thor-128gb", "Jetson AGX Thor 128 GB", 128, True, 8.0, 256, 8),
    _p("gpu-4gb", "desktop GPU, under 6 GiB", 4, False, 0.5, 128, 2),
    _p("gpu-8gb", "desktop GPU, 6-12 GiB", 8, False, 1.0, 256, 2),
    _p("gpu-16gb", "desktop GPU, 12-20 GiB", 16, False, 2.0, 256, 4),
    _p("gpu-24gb", "desktop GPU, 20 GiB or more", 24, False, 3.0, 256, 8),
)  # fmt: skip

#: desktop classes: (VRAM below this many GiB, preset name); the last class takes everything above
_GPU_CLASSES = ((6.0, "gpu-4gb"), (12.0, "gpu-8gb"), (20.0, "gpu-16gb"), (float("inf"), "gpu-24gb"))
_BY_NAME = {p.name: p for p in PRESETS}
PRESET_NAMES = tuple(_BY_NAME)


def preset(name: str) -> DevicePreset:
    """The preset called ``name``; an unknown name is one line listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise OftsrError(f"unknown device preset {name!r} (known: {', '.join(PRESET_NAMES)})") from None


def preset_for_gpu_memory(total_bytes: int) -> DevicePreset:
    """The desktop class of a GPU with ``total_bytes`` of VRAM."""
    gib = total_bytes / GIB
    return _BY_NAME[next(name for limit, name in _GPU_CLASSES if gib < limit)]


@dataclass(frozen=True)
class PresetChoice:
    preset: DevicePreset
    why: str  # how it was chosen, for the user


def choose_preset(
    jetson_key: str | None = None,
    jetson_family: str | None = None,
    gpu_memory_bytes: int | None = None,
    name: str | None = None,
) -> PresetChoice | None:
    """The preset for this machine: an explicit ``name``, else the Jetson module's, else the GPU's memory class.

    A Jetson whose module is known but whose size has no row takes its family's largest row that is not larger
    than its memory. None when there is no CUDA GPU to build for (the CPU needs no engine).
    """
    if name:
        return PresetChoice(preset(name), "chosen with --preset")
    if jetson_key and jetson_key in _BY_NAME:
        return PresetChoice(_BY_NAME[jetson_key], f"detected Jetson module ({jetson_key})")
    if jetson_family:
        family = [p for p in PRESETS if p.name.startswith(jetson_family + "-")]
        memory = (gpu_memory_bytes or 0) / GIB
        fitting = [p for p in family if p.memory_gib <= max(memory, 1) * 1.1] or family[:1]
        if fitting:
            chosen = max(fitting, key=lambda p: p.memory_gib)
            return PresetChoice(chosen, f"Jetson {jetson_family}, size from its memory ({memory:.1f} GiB)")
    if gpu_memory_bytes:
        chosen = preset_for_gpu_memory(gpu_memory_bytes)
        return PresetChoice(chosen, f"GPU memory {gpu_memory_bytes / GIB:.1f} GiB")
    return None


def fit_tile(tile: int, multiple_of: int) -> int:
    """``tile`` rounded down to the model's ``multiple_of`` (never below one multiple)."""
    return max(multiple_of, tile - tile % multiple_of)
