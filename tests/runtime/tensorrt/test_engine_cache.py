"""Engine cache key, sidecar round trip and validation: corrupt or mismatched means rebuild, never load."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file, write_bytes_atomic
from oftsr_edge.runtime.backends.tensorrt import engine_cache
from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
    EngineEnvironment,
    EngineSidecar,
    cache_entry_path,
    default_cache_dir,
    engine_cache_key,
    read_sidecar,
    sidecar_path,
    sidecar_problems,
    timing_cache_path,
    usable_engine,
    write_engine,
)
from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile

ENV = EngineEnvironment("10.3.0", "NVIDIA Jetson AGX Orin", "8.7")
SPEC = ModelSpec(
    name="oftsr-tiny-x4", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp16", opset=18, tile=32,
    degradation="bicubic", checkpoint_sha256="ab" * 32,
)  # fmt: skip
PROFILE = make_profile(4, 4, tile=32, batch=2)
ONNX_SHA = "cd" * 32


def _key(**changes: object) -> str:
    args = {"onnx_sha256": ONNX_SHA, "env": ENV, "precision": "fp16", "profile": PROFILE, **changes}
    return engine_cache_key(**args)  # type: ignore[arg-type]


def test_key_is_stable_and_depends_on_every_field() -> None:
    key = _key()
    assert key == _key() and len(key) == 64
    variants = [
        _key(onnx_sha256="ef" * 32),
        _key(env=replace(ENV, trt_version="10.3.1")),
        _key(env=replace(ENV, gpu_name="NVIDIA Orin Nano")),
        _key(env=replace(ENV, compute_capability="8.6")),
        _key(precision="fp32"),
        _key(profile=make_profile(4, 4, tile=64, batch=2)),
        _key(profile=make_profile(4, 4, tile=32, batch=4)),
    ]
    assert len({key, *variants}) == len(variants) + 1


def _sidecar(engine: bytes, **changes: object) -> EngineSidecar:
    import hashlib

    fields = dict(
        key=_key(), onnx_sha256=ONNX_SHA, env=ENV, precision="fp16", profile=PROFILE,
        engine_sha256=hashlib.sha256(engine).hexdigest(), engine_bytes=len(engine), spec=SPEC,
        builder={"network_flags": ["STRONGLY_TYPED"]},
    )  # fmt: skip
    fields.update(changes)
    return EngineSidecar(**fields)  # type: ignore[arg-type]


def test_sidecar_round_trip_carries_the_model_spec(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    sidecar = _sidecar(b"ENGINE")
    write_engine(engine, b"ENGINE", sidecar)
    assert engine.read_bytes() == b"ENGINE"
    assert sidecar_path(engine) == tmp_path / "m.engine.json"
    back = read_sidecar(engine)
    assert back.spec == SPEC and back.profile == PROFILE and back.env == ENV
    assert back.key == sidecar.key and back.builder == {"network_flags": ["STRONGLY_TYPED"]}
    assert back.created  # stamped when written
    assert sidecar_problems(back, ENV, engine, expected_key=_key()) == []
    assert usable_engine(engine, ENV, _key())[0] == back


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (replace(ENV, trt_version="10.3.1"), "built with TensorRT 10.3.0, this is 10.3.1"),
        (
            replace(ENV, gpu_name="NVIDIA GeForce RTX 4090", compute_capability="8.9"),
            "built for NVIDIA Jetson",
        ),
        (replace(ENV, compute_capability="8.6"), "sm 8.7"),
    ],
)
def test_mismatched_environment_is_refused(tmp_path: Path, env: EngineEnvironment, message: str) -> None:
    engine = write_engine(tmp_path / "m.engine", b"ENGINE", _sidecar(b"ENGINE"))
    sidecar, reason = usable_engine(engine, env, _key())
    assert sidecar is None and message in reason


def test_other_key_is_refused(tmp_path: Path) -> None:
    engine = write_engine(tmp_path / "m.engine", b"ENGINE", _sidecar(b"ENGINE"))
    assert "cache key differs" in usable_engine(engine, ENV, _key(precision="fp32"))[1]


def test_corrupt_or_replaced_engine_is_refused(tmp_path: Path) -> None:
    engine = write_engine(tmp_path / "m.engine", b"ENGINE", _sidecar(b"ENGINE"))
    engine.write_bytes(b"ENGINX")  # same size, other bytes
    assert "does not match its sidecar" in usable_engine(engine, ENV, _key())[1]
    engine.write_bytes(b"ENG")  # truncated
    assert "does not match its sidecar" in usable_engine(engine, ENV, _key())[1]
    engine.unlink()
    assert usable_engine(engine, ENV, _key()) == (None, "not built yet")
    assert "engine file is missing" in sidecar_problems(read_sidecar(engine), engine_path=engine)[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not an oftsr-edge engine sidecar"),
        ('{"format": "something-else"}', "not an oftsr-edge engine sidecar"),
        ('{"format": "oftsr-edge-trt-engine", "sidecar_version": 99}', "sidecar version 99"),
        ('{"format": "oftsr-edge-trt-engine", "sidecar_version": 1}', "lacks key"),
    ],
)
def test_corrupt_sidecars_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    engine = write_engine(tmp_path / "m.engine", b"ENGINE", _sidecar(b"ENGINE"))
    sidecar_path(engine).write_text(text)
    with pytest.raises(OftsrError, match=message):
        read_sidecar(engine)
    sidecar, reason = usable_engine(engine, ENV, _key())
    assert sidecar is None and message.split()[0] in reason


def test_sidecar_with_bad_values_or_bad_spec(tmp_path: Path) -> None:
    engine = write_engine(tmp_path / "m.engine", b"ENGINE", _sidecar(b"ENGINE"))
    data = json.loads(sidecar_path(engine).read_text())
    data["engine_bytes"] = "many"
    sidecar_path(engine).write_text(json.dumps(data))
    with pytest.raises(OftsrError, match="bad value"):
        read_sidecar(engine)
    data["engine_bytes"] = 6
    data["model_spec"]["scale"] = 3
    sidecar_path(engine).write_text(json.dumps(data))
    with pytest.raises(OftsrError, match="scale must be 2, 4 or 8"):
        read_sidecar(engine)


def test_missing_sidecar_says_how_to_build(tmp_path: Path) -> None:
    engine = tmp_path / "foreign.engine"
    engine.write_bytes(b"trtexec output")
    with pytest.raises(OftsrError, match="oftsr-edge build"):
        read_sidecar(engine)
    assert "no sidecar" in usable_engine(engine, ENV, _key())[1]


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    write_bytes_atomic(target, b"one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]
    assert sha256_file(target) == __import__("hashlib").sha256(b"two").hexdigest()


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_cache_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key()
    assert cache_entry_path(tmp_path, "oftsr tiny/x4", key) == tmp_path / f"oftsr-tiny-x4-{key[:16]}.engine"
    assert timing_cache_path(tmp_path, ENV) == tmp_path / "timing-trt10.3.0-nvidia-jetson-agx-orin-sm87.cache"
    assert timing_cache_path(tmp_path, ENV) != timing_cache_path(tmp_path, replace(ENV, trt_version="10.3.1"))
    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "trt"
    monkeypatch.delenv("OFTSR_EDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "oftsr-edge" / "trt"


def test_module_imports_no_heavy_library() -> None:
    source = Path(engine_cache.__file__).read_text()
    assert "import torch" not in source and "import onnx" not in source and "import tensorrt" not in source


def test_tensorrt_modules_import_without_torch_onnx_or_tensorrt() -> None:
    """Every TensorRT module and the build/check commands import on a Jetson with neither torch nor onnx, and
    without touching tensorrt or cuda-python (they load inside the functions that use them)."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys\n"
        "for name in ('torch', 'onnx', 'tensorrt', 'cuda'):\n"
        "    sys.modules[name] = None\n"
        "import oftsr_edge.runtime.backends.tensorrt as package\n"
        "for info in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "import oftsr_edge.export.polygraphy_check, oftsr_edge.export.check_command\n"
        "print(len(list(pkgutil.iter_modules(package.__path__))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 9  # every module of the package was imported



@pytest.mark.parametrize(
    ("name", "sha"),
    [("../../escaped", "ab" * 32), ("/abs/path", "ab" * 32), ("m", "../../x"), ("..", ".."), ("a" * 300, "ab" * 32)],
)
def test_the_ort_trt_cache_folder_stays_in_the_cache_whatever_the_metadata_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, sha: str
) -> None:
    """The folder is named from the model file's metadata, which anyone can write: the backend must make one plain
    folder inside ``<cache>/ort-trt`` and nothing anywhere else. (The traversals climb no further than
    ``tmp_path``, so that this test is harmless on code without the fix too.)"""
    pytest.importorskip("onnxruntime")
    from oftsr_edge.runtime.backends.onnxruntime import _trt_provider
    from oftsr_edge.runtime.backends.options import OrtTensorRT

    monkeypatch.setenv("OFTSR_EDGE_CACHE", str(tmp_path / "cache"))
    spec = replace(SPEC, name=name, checkpoint_sha256=sha)
    if name.startswith("/"):  # the old join made this an absolute path: look at the name only
        folder = engine_cache.ort_trt_cache_dir(spec)
    else:
        _trt_provider(spec, OrtTensorRT(), tile=None, batch=1)
        made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        assert made[:2] == [Path("cache"), Path("cache/ort-trt")] and len(made) == 3, made
        folder = tmp_path / made[2]
    assert folder.parent == tmp_path / "cache" / "ort-trt"
    assert "/" not in folder.name and not folder.name.startswith(".") and len(folder.name) < 100
