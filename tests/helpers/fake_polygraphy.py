"""A stand-in for Polygraphy's TensorRT loaders (``polygraphy.backend.trt``), for builder tests without TensorRT.

This is a fake of the external library, not a run of it: it records which loaders the builder calls and with what
arguments, sends messages through the real Polygraphy logger (``G_LOGGER``) and raises the real
``PolygraphyException`` where Polygraphy does (a parse or build failure logs errors, then ``G_LOGGER.critical``).
Whether TensorRT itself accepts the build is checked only by ``test_real_build`` on a machine with TensorRT and a GPU.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from polygraphy.logger import G_LOGGER

from oftsr_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from tests.helpers.fake_tensorrt import ENGINE_MAGIC


class _Tensor:
    def __init__(self, name: str) -> None:
        self.name = name


class _Network:
    def __init__(self, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
        self.inputs, self.outputs = [_Tensor(n) for n in inputs], [_Tensor(n) for n in outputs]

    num_inputs = property(lambda self: len(self.inputs))
    num_outputs = property(lambda self: len(self.outputs))

    def get_input(self, i: int) -> _Tensor:
        return self.inputs[i]

    def get_output(self, i: int) -> _Tensor:
        return self.outputs[i]


class _TimingCache:
    def __init__(self, data: bytes) -> None:
        if bytes(data).startswith(b"CORRUPT"):
            raise RuntimeError("invalid timing cache")
        self.data = bytes(data)

    def serialize(self) -> bytes:
        return self.data + b"+timing"


class _BuilderConfig:
    """The ``trt.IBuilderConfig`` that ``CreateConfig(...)(builder, network)`` returns: its timing-cache calls."""

    def __init__(self, progress_monitor: Any) -> None:
        self.progress_monitor = progress_monitor
        self.timing: _TimingCache | None = _TimingCache(b"")  # CreateConfig attaches an empty cache

    def create_timing_cache(self, data: bytes) -> _TimingCache:
        return _TimingCache(data)

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        self.timing = cache
        return True

    def get_timing_cache(self) -> _TimingCache | None:
        return self.timing


class Profile:
    """``polygraphy.backend.trt.Profile``: ``add(name, min=, opt=, max=)`` returns the profile."""

    def __init__(self) -> None:
        self.shapes: dict[str, list[list[int]]] = {}

    def add(self, name: str, min: Any, opt: Any, max: Any) -> Profile:  # noqa: A002 - Polygraphy's names
        self.shapes[name] = [list(min), list(opt), list(max)]
        return self


class FakePolygraphy:
    """The loaders the builder uses; ``calls`` lists them in order, ``builds`` what each build was asked for."""

    Profile = Profile

    def __init__(
        self,
        *,
        network_inputs: tuple[str, ...] = INPUT_NAMES,
        network_outputs: tuple[str, ...] = OUTPUT_NAMES,
        parse_ok: bool = True,
        build_ok: bool = True,
    ) -> None:
        self.network_inputs, self.network_outputs = network_inputs, network_outputs
        self.parse_ok, self.build_ok = parse_ok, build_ok
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.builds: list[dict[str, Any]] = []

    def network_from_onnx_path(self, path: str, *, strongly_typed: bool = False) -> tuple[Any, ...]:
        self.calls.append(("network_from_onnx_path", {"path": path, "strongly_typed": strongly_typed}))
        if not self.parse_ok:
            G_LOGGER.error("In node 3 (Conv): unsupported")
            G_LOGGER.critical("Could not parse ONNX correctly")
        return "builder", _Network(self.network_inputs, self.network_outputs), "parser"

    def CreateConfig(self, **kwargs: Any) -> Callable[[Any, Any], _BuilderConfig]:  # noqa: N802 - Polygraphy's name
        self.calls.append(("CreateConfig", kwargs))
        return lambda builder, network: _BuilderConfig(kwargs.get("progress_monitor"))

    def engine_bytes_from_network(self, network: tuple[Any, ...], *, config: _BuilderConfig) -> bytes:
        self.calls.append(("engine_bytes_from_network", {"network": network, "config": config}))
        monitor = config.progress_monitor
        if monitor is not None:  # the phase callbacks TensorRT makes during a build
            monitor.phase_start("Building engine", None, 2)
            monitor.phase_start("Tactic timing", "Building engine", 3)
            assert monitor.step_complete("Tactic timing", 0)
            monitor.phase_finish("Tactic timing")
            assert monitor.step_complete("Building engine", 1)
            monitor.phase_finish("Building engine")
        G_LOGGER.warning("fake warning from the builder")
        kwargs = dict(next(args for name, args in reversed(self.calls) if name == "CreateConfig"))
        strongly_typed = next(a for n, a in reversed(self.calls) if n == "network_from_onnx_path")["strongly_typed"]
        record = {
            "strongly_typed": strongly_typed,
            "fp16": kwargs["fp16"], "int8": kwargs["int8"], "tf32": kwargs["tf32"],
            "pools": {pool.name: size for pool, size in kwargs["memory_pool_limits"].items()},
            "profiles": [profile.shapes for profile in kwargs["profiles"]],
            "timing": config.timing.data.decode() if config.timing else None,
        }  # fmt: skip
        self.builds.append(record)
        if not self.build_ok:
            G_LOGGER.critical("Invalid Engine. Please ensure the engine was built correctly")
        return ENGINE_MAGIC + json.dumps(record).encode()
