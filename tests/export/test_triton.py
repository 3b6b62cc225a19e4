"""Triton model-repository export (UNRUN on a Triton server: config content only): the config parses as protobuf
text, names/dims/types follow the contract, an engine's profile fixes batch and tile, layout and errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from oftsr_edge import contract
from oftsr_edge.errors import OftsrError
from oftsr_edge.export.triton import triton_config, write_repository
from oftsr_edge.runtime.models import resolve_model

TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([A-Za-z0-9_.+-]+))')


def parse_pbtxt(text: str) -> dict:
    """A small protobuf text-format reader (messages, lists, scalars): enough to prove the file is well formed."""
    tokens = [m.group(2) or m.group(3) or m.group(4) for m in TOKEN.finditer(text) if not m.group(1)]
    pos = 0

    def value() -> object:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            return message("}")
        if tok == "[":
            items = []
            while tokens[pos] != "]":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items
        return tok[1:-1] if tok.startswith('"') else (int(tok) if re.fullmatch(r"-?\d+", tok) else tok)

    def message(end: str | None) -> dict:
        nonlocal pos
        fields: dict = {}
        while pos < len(tokens) and tokens[pos] != end:
            key = tokens[pos]
            pos += 1
            if tokens[pos] == ":":
                pos += 1
            assert key not in fields, f"repeated field {key}"
            fields[key] = value()
        pos += 1
        return fields

    parsed = message(None)
    assert pos >= len(tokens), "trailing tokens"
    return parsed


def test_onnx_repository_follows_the_contract(tmp_path: Path) -> None:
    model = resolve_model(None)
    folder = write_repository(model, tmp_path / "repo", preferred_batch_sizes=(4, 8))
    assert (folder / "1" / "model.onnx").read_bytes() == model.read_bytes()
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    spec = contract.read_spec(model)
    assert config["name"] == folder.name == f"{spec.name}-fp32" and config["platform"] == "onnxruntime_onnx"
    assert config["max_batch_size"] == 8
    inputs = {t["name"]: t for t in config["input"]}
    assert list(inputs) == list(contract.INPUT_NAMES)
    assert inputs[contract.INPUT_LR]["dims"] == [3, -1, -1] and inputs[contract.INPUT_NOISE]["dims"] == [3, -1, -1]
    assert inputs[contract.INPUT_T]["dims"] == [1] and inputs[contract.INPUT_T]["reshape"] == {"shape": []}
    assert all(t["data_type"] == "TYPE_FP32" for t in [*config["input"], *config["output"]])
    assert [t["name"] for t in config["output"]] == list(contract.OUTPUT_NAMES)
    assert config["dynamic_batching"] == {"preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 100}


def test_engine_profile_fixes_batch_and_tile(tmp_path: Path) -> None:
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
        EngineEnvironment,
        EngineSidecar,
        write_engine,
    )
    from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile

    model = resolve_model(None)
    spec = contract.read_spec(model)
    profile = make_profile(spec.scale, spec.multiple_of, tile=128, batch=4)
    sidecar = EngineSidecar(
        key="00" * 32, onnx_sha256=sha256_file(model), env=EngineEnvironment("10.3.0", "GPU", "8.7"),
        precision="fp32", profile=profile, engine_sha256=hashlib.sha256(b"x").hexdigest(), engine_bytes=1, spec=spec,
    )  # fmt: skip
    engine = write_engine(tmp_path / "m.engine", b"x", sidecar)
    folder = write_repository(engine, tmp_path / "repo", name="sr")
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    assert config["platform"] == "tensorrt_plan" and config["max_batch_size"] == 4
    dims = {t["name"]: t["dims"] for t in config["input"]}
    assert dims[contract.INPUT_LR] == [3, 128, 128] and dims[contract.INPUT_NOISE] == [3, 512, 512]
    assert (folder / "1" / "model.plan").read_bytes() == b"x"
    with pytest.raises(OftsrError, match="batches up to 4"):
        write_repository(engine, tmp_path / "repo", max_batch_size=8)


def test_bad_requests_are_one_line(tmp_path: Path) -> None:
    spec = contract.read_spec(resolve_model(None))
    with pytest.raises(OftsrError, match="model name"):
        triton_config(spec, "bad name", "onnxruntime_onnx")
    with pytest.raises(OftsrError, match="outside 1..8"):
        triton_config(spec, "m", "onnxruntime_onnx", preferred_batch_sizes=(16,))
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(OftsrError, match="takes an .onnx"):
        write_repository(tmp_path / "m.pt", tmp_path / "repo")
    with pytest.raises(OftsrError, match="no such model file"):
        write_repository(tmp_path / "nope.onnx", tmp_path / "repo")
