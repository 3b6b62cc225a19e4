"""Export a model into an NVIDIA Triton Inference Server model repository (``config.pbtxt`` + version folder).

UNRUN: no Triton server has loaded these repositories — this project's machines have no GPU and no Triton. The
config follows Triton's documented model-configuration schema (``model_config.proto``) and is unit-tested for its
content only (names, dims, batching, platform), see docs/scale-out.md.

Layout written: ``REPO/NAME/config.pbtxt`` and ``REPO/NAME/1/model.onnx`` (platform ``onnxruntime_onnx``) or
``REPO/NAME/1/model.plan`` (``tensorrt_plan``, an engine from ``oftsr-edge build`` with its sidecar). Triton batches
requests itself (dynamic batching, batch = the contract's N axis); ``t`` is per request, so it is declared with
dims ``[1]`` and reshaped to the contract's ``[N]``. The client draws the noise (oftsr_edge.runtime.tiling.noise) and tiles,
as the runtime does; Triton runs the graph ``hr = f(lr, noise, t)`` only.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import atomic_path, write_text_atomic

PLATFORMS = {".onnx": ("onnxruntime_onnx", "model.onnx"), ".engine": ("tensorrt_plan", "model.plan"),
             ".plan": ("tensorrt_plan", "model.plan")}  # fmt: skip


def _tensor(name: str, dims: list[int], reshape: list[int] | None = None) -> str:
    text = f'  {{\n    name: "{name}"\n    data_type: TYPE_FP32\n    dims: [ {", ".join(map(str, dims))} ]\n'
    if reshape is not None:
        text += f"    reshape: {{ shape: [ {', '.join(map(str, reshape))} ] }}\n"
    return text + "  }"


def triton_config(
    spec: ModelSpec,
    name: str,
    platform: str,
    *,
    max_batch_size: int = 8,
    preferred_batch_sizes: tuple[int, ...] = (),
    max_queue_delay_us: int = 100,
    lr_hw: tuple[int, int] | None = None,
    gpus: int = 1,
) -> str:
    """The ``config.pbtxt`` text. ``lr_hw`` fixes the LR tile (an engine's static profile), else -1 (dynamic)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise OftsrError(f"Triton model name {name!r}: use letters, digits, '_', '-' and '.'")
    if max_batch_size < 1:
        raise OftsrError(f"max batch size must be >= 1, got {max_batch_size}")
    bad = [b for b in preferred_batch_sizes if not 1 <= b <= max_batch_size]
    if bad:
        raise OftsrError(f"preferred batch sizes {bad} are outside 1..{max_batch_size}")
    h, w = lr_hw if lr_hw is not None else (-1, -1)
    s = spec.scale
    hr_h, hr_w = (h * s, w * s) if lr_hw is not None else (-1, -1)
    inputs = [
        _tensor(contract.INPUT_LR, [3, h, w]),
        _tensor(contract.INPUT_NOISE, [3, hr_h, hr_w]),
        _tensor(contract.INPUT_T, [1], reshape=[]),
    ]
    outputs = [_tensor(contract.OUTPUT_HR, [3, hr_h, hr_w])]
    preferred = ""
    if preferred_batch_sizes:
        preferred = f"    preferred_batch_size: [ {', '.join(map(str, preferred_batch_sizes))} ]\n"
    input_text, output_text = ",\n".join(inputs), ",\n".join(outputs)
    return (
        f"# {spec.name} x{s} {spec.precision}, written by oftsr-edge (oftsr_edge/export/triton.py); UNRUN on Triton\n"
        f'name: "{name}"\nplatform: "{platform}"\nmax_batch_size: {max_batch_size}\n'
        f"input [\n{input_text}\n]\noutput [\n{output_text}\n]\n"
        f"dynamic_batching {{\n{preferred}    max_queue_delay_microseconds: {max_queue_delay_us}\n}}\n"
        f"instance_group [ {{ count: {gpus} kind: KIND_GPU }} ]\n"
        f'parameters {{ key: "oftsr_default_t" value: {{ string_value: "{spec.default_t}" }} }}\n'
    )


def write_repository(
    model: str | Path,
    repository: str | Path,
    name: str | None = None,
    *,
    max_batch_size: int | None = None,
    preferred_batch_sizes: tuple[int, ...] = (),
    version: int = 1,
) -> Path:
    """Copy ``model`` (.onnx, or .engine/.plan with its sidecar) into ``repository/name/version/`` and write its
    ``config.pbtxt``; returns the model folder. An engine's batch and tile come from its profile."""
    model = Path(model)
    if not model.is_file():
        raise OftsrError(f"{model}: no such model file")
    kind = PLATFORMS.get(model.suffix.lower())
    if kind is None:
        raise OftsrError(f"{model}: Triton export takes an .onnx or a TensorRT .engine/.plan file")
    platform, filename = kind
    lr_hw = None
    if platform == "tensorrt_plan":
        from oftsr_edge.runtime.backends.tensorrt.engine_cache import read_sidecar

        sidecar = read_sidecar(model)
        spec, profile = sidecar.spec, sidecar.profile
        if max_batch_size is not None and max_batch_size > profile.max_batch:
            raise OftsrError(f"{model}: the engine's profile takes batches up to {profile.max_batch}, "
                             f"not {max_batch_size}; rebuild it with 'oftsr-edge build --batch-size'")  # fmt: skip
        if profile.min[1:] == profile.max[1:]:
            lr_hw = (profile.max[1], profile.max[2])
        max_batch_size = max_batch_size or profile.max_batch
    else:
        spec = contract.read_spec(model, via="onnxruntime")
        max_batch_size = max_batch_size or 8
    name = name or f"{spec.name}-{spec.precision}"
    config = triton_config(spec, name, platform, max_batch_size=max_batch_size,
                           preferred_batch_sizes=preferred_batch_sizes, lr_hw=lr_hw)  # fmt: skip
    folder = Path(repository) / name
    with atomic_path(folder / str(version) / filename) as tmp:
        shutil.copyfile(model, tmp)
    write_text_atomic(folder / "config.pbtxt", config)
    return folder
