"""Engine cache: the one cache key, the JSON sidecar beside every engine, and its validation. No TensorRT needed.

A serialized TensorRT engine only runs on the TensorRT version and GPU it was built for (engines are not portable
across versions or architectures unless built version/hardware compatible: TensorRT 11.4.1 support matrix and
"Engine Compatibility" pages). So every engine ``X.engine`` has a sidecar ``X.engine.json`` that records what it
was built from and for: the sha256 of the ONNX, the TensorRT version, the GPU name and compute capability, the
precision, the profile shapes, the engine's own sha256, and the model's :class:`ModelSpec` (read from the ONNX
metadata, so the runtime needs nothing else). Anything missing, corrupt or mismatched means *rebuild*, never load.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file, write_bytes_atomic
from oftsr_edge.runtime.backends.tensorrt.profiles import ProfileShapes

SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = "oftsr-edge-trt-engine"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class EngineEnvironment:
    """Where an engine runs: its TensorRT version and GPU. Engines only load where these match."""

    trt_version: str
    gpu_name: str
    compute_capability: str

    @property
    def slug(self) -> str:
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-") or "gpu"
        return f"trt{self.trt_version}-{gpu}-sm{self.compute_capability.replace('.', '')}"


def engine_cache_key(onnx_sha256: str, env: EngineEnvironment, precision: str, profile: ProfileShapes) -> str:
    """The cache key of an engine: sha256 over (ONNX sha256, TensorRT version, GPU name + compute capability,
    precision, profile shapes). The only function that defines it."""
    payload = {
        "sidecar_version": SIDECAR_VERSION,
        "onnx_sha256": onnx_sha256,
        "trt_version": env.trt_version,
        "gpu_name": env.gpu_name,
        "compute_capability": env.compute_capability,
        "precision": precision,
        "profile": profile.to_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    """``$OFTSR_EDGE_CACHE/trt``, else ``$XDG_CACHE_HOME/oftsr-edge/trt``, else ``~/.cache/oftsr-edge/trt``."""
    from oftsr_edge.fileio import cache_root

    return cache_root() / "trt"


def safe_name(text: str, fallback: str = "model") -> str:
    """``text`` (a model's metadata name, anyone's string) as one harmless file-name part: only letters, digits,
    ``._-``, no leading dot or dash (so never ``..`` or hidden), at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:64].strip("-.") or fallback


def cache_entry_path(cache_dir: str | Path, model_name: str, key: str) -> Path:
    """Engine file for ``key`` in the cache: ``<model>-<key[:16]>.engine``."""
    return Path(cache_dir) / f"{safe_name(model_name)}-{safe_name(key[:16], 'key')}.engine"


def ort_trt_cache_dir(spec: ModelSpec) -> Path:
    """The TensorRT execution provider's engine + timing cache of one model: ``<cache>/ort-trt/<name>-<precision>-
    <sha[:12]>``, every part sanitised, because the name and hash come from the model file's metadata and must never
    lead the folder (made, and later written into) out of the cache (``../../etc``)."""
    parts = (safe_name(spec.name), safe_name(spec.precision, "p"), safe_name(spec.checkpoint_sha256[:12], "sha"))
    return default_cache_dir().parent / "ort-trt" / "-".join(parts)


def timing_cache_path(cache_dir: str | Path, env: EngineEnvironment) -> Path:
    """One timing cache per (TensorRT version, GPU): timings from another GPU or version are not valid."""
    return Path(cache_dir) / f"timing-{env.slug}.cache"


def sidecar_path(engine_path: str | Path) -> Path:
    return Path(f"{engine_path}{SIDECAR_SUFFIX}")


@dataclass(frozen=True)
class EngineSidecar:
    """Everything known about one engine file (the JSON beside it)."""

    key: str
    onnx_sha256: str
    env: EngineEnvironment
    precision: str
    profile: ProfileShapes
    engine_sha256: str
    engine_bytes: int
    spec: ModelSpec
    builder: dict[str, object] = field(default_factory=dict)
    created: str = ""

    def to_json(self) -> str:
        data = {
            "format": SIDECAR_FORMAT,
            "sidecar_version": SIDECAR_VERSION,
            "key": self.key,
            "onnx_sha256": self.onnx_sha256,
            "trt_version": self.env.trt_version,
            "gpu_name": self.env.gpu_name,
            "compute_capability": self.env.compute_capability,
            "precision": self.precision,
            "profile": self.profile.to_dict(),
            "engine_sha256": self.engine_sha256,
            "engine_bytes": self.engine_bytes,
            "model_spec": json.loads(self.spec.to_json()),
            "builder": self.builder,
            "created": self.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "engine sidecar") -> EngineSidecar:
        """Parse and validate; any problem is one :class:`OftsrError` naming ``source``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise OftsrError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
            raise OftsrError(f"{source}: not an oftsr-edge engine sidecar")
        if data.get("sidecar_version") != SIDECAR_VERSION:
            raise OftsrError(f"{source}: sidecar version {data.get('sidecar_version')!r} is not supported")
        try:
            return cls(
                key=str(data["key"]),
                onnx_sha256=str(data["onnx_sha256"]),
                env=EngineEnvironment(
                    str(data["trt_version"]), str(data["gpu_name"]), str(data["compute_capability"])
                ),
                precision=str(data["precision"]),
                profile=ProfileShapes.from_dict(data["profile"]),
                engine_sha256=str(data["engine_sha256"]),
                engine_bytes=int(data["engine_bytes"]),
                spec=ModelSpec.from_json(json.dumps(data["model_spec"]), source=source),
                builder=dict(data.get("builder") or {}),
                created=str(data.get("created", "")),
            )
        except KeyError as exc:
            raise OftsrError(f"{source}: lacks {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: bad value ({exc})") from None


def read_sidecar(engine_path: str | Path) -> EngineSidecar:
    path = sidecar_path(engine_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OftsrError(
            f"{engine_path}: no sidecar {path.name}; engines must be built with 'oftsr-edge build'"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OftsrError(f"{path}: cannot be read ({exc})") from None
    return EngineSidecar.from_json(text, source=str(path))


def write_engine(engine_path: str | Path, engine: bytes, sidecar: EngineSidecar) -> Path:
    """Write the engine, then its sidecar, each atomically. A crash in between leaves a sidecar whose
    ``engine_sha256`` does not match, which reads as "rebuild"."""
    write_bytes_atomic(engine_path, engine)
    write_bytes_atomic(sidecar_path(engine_path), sidecar.to_json().encode("utf-8"))
    return Path(engine_path)


def sidecar_problems(
    sidecar: EngineSidecar,
    env: EngineEnvironment | None = None,
    engine_path: str | Path | None = None,
    expected_key: str | None = None,
) -> list[str]:
    """Why this engine must not be loaded here (empty list: it may). Checks what is given: the current
    environment, the engine file's size and sha256, the expected cache key."""
    problems = []
    if expected_key is not None and sidecar.key != expected_key:
        problems.append("it was built from another ONNX, precision or profile (cache key differs)")
    if env is not None:
        if sidecar.env.trt_version != env.trt_version:
            problems.append(
                f"it was built with TensorRT {sidecar.env.trt_version}, this is {env.trt_version}"
            )
        if (sidecar.env.gpu_name, sidecar.env.compute_capability) != (env.gpu_name, env.compute_capability):
            problems.append(
                f"it was built for {sidecar.env.gpu_name} (sm {sidecar.env.compute_capability}), "
                f"this GPU is {env.gpu_name} (sm {env.compute_capability})"
            )
    if engine_path is not None:
        path = Path(engine_path)
        if not path.is_file():
            problems.append("the engine file is missing")
        elif path.stat().st_size != sidecar.engine_bytes or sha256_file(path) != sidecar.engine_sha256:
            problems.append("the engine file does not match its sidecar (corrupt or replaced)")
    return problems


def usable_engine(
    engine_path: str | Path, env: EngineEnvironment, key: str
) -> tuple[EngineSidecar | None, str]:
    """``(sidecar, "")`` when ``engine_path`` holds a valid engine for ``key`` on ``env``, else ``(None, reason)``."""
    if not Path(engine_path).is_file():
        return None, "not built yet"
    try:
        sidecar = read_sidecar(engine_path)
    except OftsrError as exc:
        return None, str(exc)
    problems = sidecar_problems(sidecar, env, engine_path, expected_key=key)
    return (None, "; ".join(problems)) if problems else (sidecar, "")
