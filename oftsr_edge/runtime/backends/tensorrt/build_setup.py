"""What ``oftsr-edge build`` builds on this machine when the user gives only a model: ONNX file, precision, tile,
batch and workspace, each from the flag when given, else from this TensorRT (:mod:`.onnx_choice`) and this device's
memory preset (runtime/device/devices.py, chosen from the Jetson module or the GPU's memory).

:func:`merge_settings` is the pure rule (flags win, then the preset, then the model's own tile); :func:`prepare_build`
gathers the facts (TensorRT version, GPU, Jetson) and returns everything ``build_engine`` needs plus the lines that
tell the user where each value came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from oftsr_edge.contract import ModelSpec, read_spec
from oftsr_edge.extras import require_tensorrt
from oftsr_edge.runtime.backends.tensorrt.cuda_probe import GpuProbe, import_cudart, probe_gpus
from oftsr_edge.runtime.backends.tensorrt.onnx_choice import OnnxChoice, choose_onnx, resolve_source
from oftsr_edge.runtime.backends.tensorrt.versions import TrtVersion
from oftsr_edge.runtime.device.devices import DevicePreset, PresetChoice, choose_preset, fit_tile
from oftsr_edge.runtime.device.jetson import JetsonInfo, detect_jetson

DEFAULT_WORKSPACE_GIB = 1.0  # without a preset (a GPU the probe could not size)


@dataclass(frozen=True)
class BuildSettings:
    tile: int
    batch: int
    workspace_gib: float
    preset: DevicePreset | None
    lines: tuple[str, ...]  # for the user: where the values came from


def merge_settings(
    spec: ModelSpec,
    choice: PresetChoice | None,
    *,
    tile: int | None,
    batch: int | None,
    workspace_gib: float | None,
) -> BuildSettings:
    """Flags win; a missing flag takes the preset's value (its tile rounded to the model's multiple), else the
    model's recommended tile, batch 1 and a 1 GiB workspace."""
    preset = choice.preset if choice else None
    from_preset = []
    if tile is None:
        tile = fit_tile(preset.tile, spec.multiple_of) if preset else spec.tile
        from_preset.append(f"tile {tile}")
    if batch is None:
        batch = preset.batch if preset else 1
        from_preset.append(f"batch {batch}")
    if workspace_gib is None:
        workspace_gib = preset.workspace_gib if preset else DEFAULT_WORKSPACE_GIB
        from_preset.append(f"workspace {workspace_gib:g} GiB")
    lines = []
    if from_preset:
        origin = f"preset {preset.name} ({choice.why})" if preset and choice else "defaults (no device preset found)"
        lines.append(f"[build] {', '.join(from_preset)} from {origin}; flags --tile/--batch-size/--workspace override")
    return BuildSettings(tile, batch, workspace_gib, preset, tuple(lines))


@dataclass(frozen=True)
class PreparedBuild:
    choice: OnnxChoice
    settings: BuildSettings
    lines: tuple[str, ...]


def prepare_build(
    model: str | Path,
    *,
    precision: str | None,
    tile: int | None,
    batch: int | None,
    workspace_gib: float | None,
    preset_name: str | None,
    device: int,
    trt: ModuleType | None = None,
    probe: Callable[[], GpuProbe] | None = None,
    jetson: Callable[[], JetsonInfo | None] | None = None,
) -> PreparedBuild:
    """Resolve MODEL and this machine's defaults; the TensorRT module, GPU probe and Jetson detection are
    injectable for tests."""
    source = resolve_source(model)
    if trt is None:
        require_tensorrt()
        import tensorrt as trt
    version = TrtVersion.parse(str(trt.__version__))
    choice = choose_onnx(version, source, precision, read_spec)
    gpus = (probe or (lambda: probe_gpus(import_cudart())))()
    gpu = next((g for g in gpus.gpus if g.index == device), None)
    board = (jetson or detect_jetson)()
    preset = choose_preset(
        jetson_key=board.preset_key if board else None,
        jetson_family=board.family if board else None,
        gpu_memory_bytes=(gpu.total_memory if gpu else None) or (board.mem_total_bytes if board else None),
        name=preset_name,
    )
    settings = merge_settings(choice.spec, preset, tile=tile, batch=batch, workspace_gib=workspace_gib)
    lines = ([f"[build] {choice.note}"] if choice.note else []) + list(settings.lines)
    return PreparedBuild(choice, settings, tuple(lines))
