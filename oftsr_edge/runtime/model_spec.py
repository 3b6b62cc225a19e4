"""What an exported model says about itself (DESIGN §2), as one frozen value object.

The exporter writes ``ModelSpec.to_json()`` into the ONNX ``metadata_props`` under :data:`METADATA_KEY` (and into a
TensorRT engine's JSON sidecar); the runtime reads it back. Nothing about a model is ever guessed from its file name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from oftsr_edge.errors import OftsrError

METADATA_KEY = "oftsr_edge"
FORMAT_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
INPUT_NAMES = ("lr", "noise", "t")
OUTPUT_NAME = "hr"


@dataclass(frozen=True)
class ModelSpec:
    """Facts the runtime needs: scale, σp, padding multiple, default t, precision, recommended tile, provenance."""

    name: str
    scale: int
    sigma_p: float
    multiple_of: int
    default_t: float
    precision: str
    opset: int
    tile: int
    degradation: str
    checkpoint_sha256: str
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.scale not in (2, 4, 8):
            raise OftsrError(f"model metadata: scale must be 2, 4 or 8, got {self.scale}")
        if self.precision not in PRECISIONS:
            raise OftsrError(f"model metadata: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.default_t <= 1.0:
            raise OftsrError(f"model metadata: default_t must be in [0, 1], got {self.default_t}")
        if self.multiple_of < 1 or self.tile % self.multiple_of:
            raise OftsrError(f"model metadata: tile {self.tile} is not a multiple of {self.multiple_of}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelSpec:
        """Parse and validate; any problem is one :class:`OftsrError` line naming ``source``."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise OftsrError(f"{source}: oftsr-edge metadata is not a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise OftsrError(f"{source}: metadata format_version {version!r} is not supported (expected {FORMAT_VERSION})")
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        if missing:
            raise OftsrError(f"{source}: oftsr-edge metadata lacks {', '.join(missing)}")
        try:
            return cls(
                name=str(data["name"]), scale=int(data["scale"]), sigma_p=float(data["sigma_p"]),
                multiple_of=int(data["multiple_of"]), default_t=float(data["default_t"]),
                precision=str(data["precision"]), opset=int(data["opset"]), tile=int(data["tile"]),
                degradation=str(data["degradation"]), checkpoint_sha256=str(data["checkpoint_sha256"]),
                format_version=int(version),
            )
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata has a bad value ({exc})") from None

    def with_precision(self, precision: str) -> ModelSpec:
        return ModelSpec(**{**asdict(self), "precision": precision})
