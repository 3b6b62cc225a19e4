"""Which TensorRT API each version gets: network flags and builder flags, decided once as a pure plan.

The builder asks :func:`plan_build` what to do and only then touches TensorRT, so every version rule here is unit
tested without TensorRT. The rules (docs/architecture.md §7; docs/tensorrt.md):

- **TensorRT 8.5 / 8.6** (JetPack 5.1 / 6.0) are weakly typed and have no strong typing. The ONNX parser needs an
  explicit-batch network (``NetworkDefinitionCreationFlag.EXPLICIT_BATCH``; NVIDIA/TensorRT python/src/infer/pyCore.cpp
  @release/8.5). An fp16 engine is the fp32 ONNX plus ``BuilderFlag.FP16``; an int8 engine is the Q/DQ ONNX plus
  ``BuilderFlag.INT8`` — explicit quantization in 8.x still needs the INT8 flag to enable int8 kernels, but never a
  calibrator ("Working with Quantized Types", TensorRT 8.6 developer guide).
- **TensorRT 9.x / 10.x** build strongly typed: ``1 << int(NetworkDefinitionCreationFlag.STRONGLY_TYPED)``, looked up by
  *name* because its value changed (1 in 10.x, 0 in 11.x: include/NvInfer.h @v10.16 vs @v11.1). Precision comes from
  the ONNX (fp16-converted graph or Q/DQ graph); precision builder flags are not allowed with strong typing
  (NvInfer.h: "setting layer precision and layer output types is not allowed") and were deprecated in 10.12.
- **TensorRT 11.x** removed weak typing: no FP16/INT8 flags, no calibrator, no EXPLICIT_BATCH; strong typing is always
  on, so the network is created with no flags at all (docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/
  tensorrt-10x-to-11x-python-api-reference.html, and the 11.x "Python Migration Patterns" page:
  ``builder.create_network()``).

No path anywhere uses the implicit INT8 calibrator (deprecated in 10.1, removed in 11.0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oftsr_edge.contract import PRECISIONS
from oftsr_edge.errors import OftsrError

MIN_SUPPORTED = (8, 5)


@dataclass(frozen=True, order=True)
class TrtVersion:
    """A TensorRT version as numbers, e.g. ``8.5.2.2`` (JetPack 5.1) or ``11.4.0.106``."""

    major: int
    minor: int
    patch: int = 0
    build: int = 0

    @classmethod
    def parse(cls, text: str) -> TrtVersion:
        """Parse ``tensorrt.__version__`` ("10.3.0", "8.6.2.3", "10.0.0b6", "10.13.0.35+cuda13")."""
        match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
        if not match:
            raise OftsrError(f"cannot read the TensorRT version {text!r}")
        parts = [int(p) if p is not None else 0 for p in match.groups()]
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f".{self.build}" if self.build else "")

    @property
    def strongly_typed(self) -> bool:
        """Whether engines are built strongly typed (9.x/10.x by flag, 11.x always)."""
        return self.major >= 9

    @property
    def has_progress_monitor(self) -> bool:
        """``IBuilderConfig.progress_monitor`` / ``trt.IProgressMonitor`` exist from 10.0 (absent in 8.6.1 headers)."""
        return self.major >= 10


@dataclass(frozen=True)
class BuildPlan:
    """What the builder sets for one (TensorRT version, ONNX precision, wanted precision)."""

    version: TrtVersion
    onnx_precision: str
    precision: str
    #: ``trt.NetworkDefinitionCreationFlag`` names the network is created with (Polygraphy sets EXPLICIT_BATCH
    #: before 10.0 itself, and STRONGLY_TYPED when asked)
    network_flags: tuple[str, ...]
    #: ``trt.BuilderFlag`` precision names (Polygraphy's ``CreateConfig(fp16=, int8=)``)
    builder_flags: tuple[str, ...]

    @property
    def strongly_typed(self) -> bool:
        return self.version.strongly_typed


def check_supported(version: TrtVersion) -> None:
    if (version.major, version.minor) < MIN_SUPPORTED:
        raise OftsrError(
            f"TensorRT {version} is too old: oftsr-edge needs TensorRT >= 8.5 (JetPack 5.1) for the tensor-name API"
        )


def plan_build(version: TrtVersion | str, onnx_precision: str, precision: str | None = None) -> BuildPlan:
    """Decide flags for building ``precision`` (default: the ONNX's own) from an ONNX of ``onnx_precision``.

    Raises :class:`OftsrError` with the fix when the combination cannot be built on this version.
    """
    if isinstance(version, str):
        version = TrtVersion.parse(version)
    check_supported(version)
    wanted = precision or onnx_precision
    for label, value in (("precision", wanted), ("ONNX precision", onnx_precision)):
        if value not in PRECISIONS:
            raise OftsrError(f"{label} must be one of {', '.join(PRECISIONS)}, got {value!r}")

    if version.strongly_typed:
        if wanted != onnx_precision:
            raise OftsrError(
                f"TensorRT {version} builds strongly typed: the precision comes from the ONNX, which is "
                f"{onnx_precision}; build a {wanted} engine from the {wanted} ONNX variant instead"
            )
        flags = ("STRONGLY_TYPED",) if version.major < 11 else ()
        return BuildPlan(version, onnx_precision, wanted, flags, ())

    # TensorRT 8.5 / 8.6: weakly typed, explicit batch required by the ONNX parser.
    network = ("EXPLICIT_BATCH",)
    if onnx_precision == "fp16":
        raise OftsrError(
            f"TensorRT {version} has no strong typing: build fp16 engines from the fp32 ONNX with precision fp16 "
            "(that sets the FP16 builder flag), not from the fp16 ONNX"
        )
    if onnx_precision == "int8":
        if wanted != "int8":
            raise OftsrError(f"the ONNX is the int8 Q/DQ variant; build {wanted} from the fp32 ONNX instead")
        return BuildPlan(version, onnx_precision, wanted, network, ("INT8",))
    if wanted == "int8":
        raise OftsrError(
            "int8 engines need the Q/DQ ONNX variant (explicit quantization); oftsr-edge never uses an INT8 calibrator"
        )
    return BuildPlan(version, onnx_precision, wanted, network, ("FP16",) if wanted == "fp16" else ())
