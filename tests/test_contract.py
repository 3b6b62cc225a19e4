"""The model contract (oftsr_edge/contract.py): the one reader and validator on good and broken models (both readers;
path, bytes or proto), the onnx-free path, and the shape rules.

Besides contract.py, this is the only file allowed to spell the contract's strings (tests/test_contract_scan.py
enforces it): it pins them, because every exported model carries them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec, read_spec
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.models import default_name, resolve_model

REPO = Path(__file__).resolve().parents[1]
BUNDLED = resolve_model()  # the bundled default model, by the registry
SPEC = ModelSpec(
    name="oftsr-test-x4", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp32", opset=18, tile=32,
    degradation="bicubic", checkpoint_sha256="ab" * 32,
)  # fmt: skip
READERS = ("onnx", "onnxruntime")


def test_the_wire_names_are_pinned() -> None:
    """Renaming any of these breaks every model already exported: change them only with a format_version bump."""
    assert contract.INPUT_NAMES == ("lr", "noise", "t")
    assert contract.OUTPUT_NAMES == ("hr",)
    assert (contract.INPUT_LR, contract.INPUT_NOISE, contract.INPUT_T, contract.OUTPUT_HR) == (
        "lr",
        "noise",
        "t",
        "hr",
    )
    assert contract.METADATA_KEY == "oftsr_edge"
    assert contract.FORMAT_VERSION == 1


# ---- a small graph that follows (or breaks) the contract --------------------------------------------------------


def build(
    *,
    names: tuple[str, ...] = ("lr", "noise", "t"),
    outputs: tuple[str, ...] = ("hr",),
    dims: dict[str, list] | None = None,
    half: tuple[str, ...] = (),
    metadata: str | None = SPEC.to_json(),
    t_used: bool = True,
):
    """hr = noise + 0·t (so t feeds a node); ``names`` are the three inputs in the roles lr, noise, t."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    lr, noise, t = names
    shapes = {
        lr: ["N", 3, "h", "w"],
        noise: ["N", 3, "4*h", "4*w"],
        t: ["N"],
        outputs[0]: ["N", 3, "4*h", "4*w"],
    }
    shapes.update(dims or {})

    def value(name: str):
        kind = TensorProto.FLOAT16 if name in half else TensorProto.FLOAT
        return helper.make_tensor_value_info(name, kind, shapes.get(name, ["N", 3, "4*h", "4*w"]))

    inits = [numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "shape4"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]  # fmt: skip
    nodes = [helper.make_node("Identity", [noise], [outputs[0]])]
    if t_used:
        nodes = [
            helper.make_node("Cast", [t], ["t32"], to=TensorProto.FLOAT),
            helper.make_node("Reshape", ["t32", "shape4"], ["t4"]),
            helper.make_node("Mul", ["t4", "zero"], ["t0"]),
            helper.make_node("Add", [noise, "t0"], [outputs[0]]),
        ]
    nodes += [helper.make_node("Identity", [noise], [extra]) for extra in outputs[1:]]
    graph = helper.make_graph(
        nodes, "contract", [value(n) for n in names], [value(n) for n in outputs], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {"oftsr_edge": metadata})
    return model


def save(model, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def _meta(**changes) -> str:
    data = json.loads(SPEC.to_json())
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


# ---- good models ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["auto", *READERS])
def test_every_reader_gives_the_same_spec(tmp_path: Path, via: str) -> None:
    pytest.importorskip("onnxruntime")
    model = build()
    path = save(model, tmp_path / "m.onnx")
    assert read_spec(path, via=via) == SPEC
    assert read_spec(str(path), via=via) == SPEC
    assert read_spec(model.SerializeToString(), via=via) == SPEC


def test_an_in_memory_proto_is_read_too() -> None:
    assert read_spec(build(), expect_precision="fp32") == SPEC


def test_the_bundled_model_reads_the_same_through_onnx_and_onnxruntime() -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    proto = onnx.load(str(BUNDLED))
    session = ort.InferenceSession(str(BUNDLED), providers=["CPUExecutionProvider"])
    seen_by_onnx, seen_by_ort = contract.describe_proto(proto), contract.describe_session(session)
    assert seen_by_onnx.inputs == seen_by_ort.inputs
    assert seen_by_onnx.outputs == seen_by_ort.outputs
    assert dict(seen_by_onnx.metadata) == dict(seen_by_ort.metadata)
    assert seen_by_ort.consumed is None and "t" in seen_by_onnx.consumed
    spec = contract.spec_from_session(session, BUNDLED)
    assert spec == read_spec(BUNDLED) and spec.scale == 4 and spec.multiple_of in (1, 2, 4, 8)
    # the JSON format did not move when ModelSpec moved: the bundled file's metadata is exactly to_json()
    assert seen_by_ort.metadata["oftsr_edge"] == spec.to_json()


# ---- broken models: one line that names the file and the problem ------------------------------------------------

BREACHES = {
    "renamed input": (dict(names=("lr", "noise", "time")), "inputs ['lr', 'noise', 'time'] / outputs ['hr'] do not match"),
    "inputs out of order": (dict(names=("t", "lr", "noise")), "do not match the oftsr-edge contract"),
    "extra output": (dict(outputs=("hr", "x0")), "outputs ['hr', 'x0'] do not match"),
    "lr of rank 3": (dict(dims={"lr": ["N", 3, "h"]}), "'lr' has rank 3, expected 4"),
    "t of rank 2": (dict(dims={"t": ["N", 1]}), "'t' has rank 2, expected 1"),
    "static h": (dict(dims={"lr": ["N", 3, 32, "w"]}), "'lr' axes [2] are not named dynamic axes"),
    "grey noise": (dict(dims={"noise": ["N", 1, "4*h", "4*w"]}), "'noise' must have 3 channels, got 1"),
    "float16 I/O": (dict(half=("t",)), "'t' must be float32 (keep_io_types), got float16"),
    "no metadata": (dict(metadata=None), "not an oftsr-edge model (no 'oftsr_edge' metadata)"),
    "newer format": (dict(metadata=_meta(format_version=3)), "format_version 3 is not supported (expected 1 or 2)"),
    "no format version": (dict(metadata=_meta(format_version=None)), "format_version None is not supported"),
    "metadata not JSON": (dict(metadata="{scale: 4"), "oftsr-edge metadata is not valid JSON"),
    "metadata lacks a field": (dict(metadata=_meta(tile=None)), "oftsr-edge metadata lacks tile"),
    "bad scale": (dict(metadata=_meta(scale=3)), "scale must be 2, 4 or 8, got 3"),
    "bad value type": (dict(metadata=_meta(tile="big")), "oftsr-edge metadata has a bad value"),
    # absurd numbers are refused when the model opens, before a runtime pads or allocates by them
    "huge multiple_of": (dict(metadata=_meta(multiple_of=65536, tile=65536)),
                         "multiple_of must be a power of two from 1 to 256, got 65536"),
    "multiple_of not a power of two": (dict(metadata=_meta(multiple_of=12, tile=48)), "power of two"),
    "negative tile": (dict(metadata=_meta(tile=-32)), "tile must be in [1, 8192], got -32"),
    "negative sigma_p": (dict(metadata=_meta(sigma_p=-0.2)), "sigma_p must be in [0, 1], got -0.2"),
    "NaN sigma_p": (dict(metadata=_meta(sigma_p=float("nan"))), "sigma_p must be in [0, 1], got nan"),
}  # fmt: skip


@pytest.mark.parametrize("via", READERS)
@pytest.mark.parametrize("case", list(BREACHES))
def test_breaches_are_one_line_errors_from_every_reader(tmp_path: Path, case: str, via: str) -> None:
    pytest.importorskip("onnxruntime")
    changes, message = BREACHES[case]
    path = save(build(**changes), tmp_path / "broken.onnx")
    with pytest.raises(OftsrError) as info:
        read_spec(path, via=via)
    text = str(info.value)
    assert message in text and text.startswith(f"{path}: ") and "\n" not in text


def test_a_folded_t_is_caught_where_the_graph_is_visible(tmp_path: Path) -> None:
    """onnxruntime does not show which inputs feed a node: only the onnx reader (the default when installed) can
    tell that t was folded away; export always has onnx, so every written file gets this check."""
    pytest.importorskip("onnxruntime")
    path = save(build(t_used=False), tmp_path / "folded.onnx")
    with pytest.raises(OftsrError, match=r"input 't' feeds no node \(folded to a constant\?\)"):
        read_spec(path, via="onnx")
    with pytest.raises(OftsrError, match="feeds no node"):
        read_spec(path)  # auto picks onnx here
    assert read_spec(path, via="onnxruntime") == SPEC


def test_precision_is_checked_when_asked(tmp_path: Path) -> None:
    path = save(build(), tmp_path / "m.onnx")
    with pytest.raises(OftsrError, match="metadata says precision fp32, expected int8"):
        read_spec(path, expect_precision="int8")


@pytest.mark.parametrize("via", ["auto", *READERS])
def test_missing_corrupt_and_truncated_files(tmp_path: Path, via: str) -> None:
    pytest.importorskip("onnx" if via == "onnx" else "onnxruntime")
    with pytest.raises(OftsrError, match="no such model file"):
        read_spec(tmp_path / "missing.onnx", via=via)
    with pytest.raises(OftsrError, match="no such model file"):
        read_spec(tmp_path, via=via)  # a folder is not a model file
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01this is not a protobuf")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(BUNDLED.read_bytes()[:5000])
    for source, label in ((junk, str(junk)), (truncated, str(truncated)), (b"\xff\xff\xff", "ONNX bytes")):
        with pytest.raises(OftsrError, match="not a loadable ONNX model") as info:
            read_spec(source, via=via)
        assert str(info.value).startswith(f"{label}: ") and "\n" not in str(info.value)


def test_an_unknown_reader_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="via must be"):
        read_spec(BUNDLED, via="magic")


# ---- without the onnx package -----------------------------------------------------------------------------------


def test_reader_falls_back_to_onnxruntime_without_onnx(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    good = BUNDLED.read_bytes()
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert read_spec(BUNDLED) == read_spec(good) == read_spec(BUNDLED, via="onnxruntime")
    with pytest.raises(MissingExtraError, match="needs the onnx package") as info:
        read_spec(BUNDLED, via="onnx")
    assert "\n" not in str(info.value)
    with pytest.raises(OftsrError, match="not a loadable ONNX model"):
        read_spec(good[:5000])


def test_the_contract_never_loads_torch_or_onnx_by_itself() -> None:
    """In a fresh interpreter: with onnx made unimportable the reader still works; with it importable, importing
    the contract and reading through onnxruntime (what the runtime does) loads neither onnx nor torch."""
    heavy = "[m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx') and sys.modules[m] is not None]"
    body = (
        "from oftsr_edge import contract\n"
        f"spec = contract.read_spec({str(BUNDLED)!r}, via=VIA)\n"
        f"assert spec.name == {default_name()!r}, spec\n"
        f"assert not {heavy}, {heavy}\n"
    )
    for prefix in ("import sys; sys.modules['onnx'] = None; sys.modules['torch'] = None; VIA = 'auto'\n",
                   "import sys; VIA = 'onnxruntime'\n"):  # fmt: skip
        result = subprocess.run([sys.executable, "-c", prefix + body], cwd=REPO, capture_output=True, text=True,
                                timeout=120, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr


# ---- shape rules and the pieces export writes --------------------------------------------------------------------


def test_shape_rules() -> None:
    shapes = contract.io_shapes(SPEC, 2, 8, 12)
    assert shapes == {"lr": (2, 3, 8, 12), "noise": (2, 3, 32, 48), "t": (2,), "hr": (2, 3, 32, 48)}
    for n, h, w in ((2, 6, 8), (1, 8, 10), (0, 8, 8), (1, 0, 8)):
        with pytest.raises(OftsrError, match="multiples of 4"):
            contract.io_shapes(SPEC, n, h, w)
    assert contract.dim_names(2) == {
        "lr": ("N", 3, "h", "w"), "noise": ("N", 3, "2*h", "2*w"), "t": ("N",), "hr": ("N", 3, "2*h", "2*w"),
    }  # fmt: skip


def test_feeds_are_contiguous_float32_under_the_contract_names() -> None:
    lr = np.zeros((1, 3, 4, 4), np.float64)
    noise = np.zeros((1, 3, 32, 32), np.float32)[:, :, ::2, ::2]  # a strided view
    feeds = contract.feeds(lr, noise, 0.5)
    assert list(feeds) == ["lr", "noise", "t"]
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in feeds.values())
    assert feeds["t"].shape == (1,) and feeds["t"][0] == 0.5
    assert contract.feeds(lr, noise, np.array([[0.25]]))["t"].shape == (1,)


def test_metadata_props_round_trip() -> None:
    props = contract.metadata_props(SPEC)
    assert list(props) == ["oftsr_edge"]
    assert ModelSpec.from_json(props["oftsr_edge"]) == SPEC
    assert SPEC.with_precision("int8").precision == "int8"


# ---- format 2: the two-time (MeanFlow) graph ----------------------------------------------------------------------

SPEC2 = ModelSpec(**{**SPEC.__dict__, "name": "oftsr-test-x4-meanflow", "format_version": 2, "method": "meanflow",
                     "default_steps": 2})  # fmt: skip


def test_the_two_time_wire_names_are_pinned() -> None:
    assert contract.TWO_TIME_INPUT_NAMES == ("lr", "noise", "t", "state", "r")
    assert contract.TWO_TIME_OUTPUT_NAMES == ("hr", "next_state")
    assert (contract.TWO_TIME_FORMAT_VERSION, contract.FORMAT_VERSIONS) == (2, (1, 2))
    assert SPEC2.two_time and not SPEC.two_time
    assert (SPEC2.input_names, SPEC2.output_names) == (contract.TWO_TIME_INPUT_NAMES, contract.TWO_TIME_OUTPUT_NAMES)


def build_two_time(*, metadata: str | None = SPEC2.to_json(), r_used: bool = True, names=None):  # noqa: ANN001, ANN201
    """hr = noise + 0·t + 0·r, next_state = state: the format-2 I/O with live t and r."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    hr_dims = ["N", 3, "4*h", "4*w"]
    shapes = {"lr": ["N", 3, "h", "w"], "noise": hr_dims, "t": ["N"], "state": hr_dims, "r": ["N"]}
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in (names or shapes)]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, hr_dims) for n in ("hr", "next_state")]
    inits = [numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "shape4"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]  # fmt: skip
    nodes = [helper.make_node("Reshape", ["t", "shape4"], ["t4"]), helper.make_node("Mul", ["t4", "zero"], ["t0"]),
             helper.make_node("Add", ["noise", "t0"], ["hr0"]), helper.make_node("Identity", ["state"], ["next_state"])]
    if r_used:
        nodes += [helper.make_node("Reshape", ["r", "shape4"], ["r4"]), helper.make_node("Mul", ["r4", "zero"], ["r0"]),
                  helper.make_node("Add", ["hr0", "r0"], ["hr"])]  # fmt: skip
    else:
        nodes.append(helper.make_node("Identity", ["hr0"], ["hr"]))
    model = helper.make_model(helper.make_graph(nodes, "two_time", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {"oftsr_edge": metadata})
    return model


@pytest.mark.parametrize("via", READERS)
def test_a_two_time_model_reads_only_where_it_is_allowed(tmp_path: Path, via: str) -> None:
    pytest.importorskip("onnxruntime")
    path = save(build_two_time(), tmp_path / "mf.onnx")
    assert read_spec(path, via=via, allow_two_time=True) == SPEC2
    with pytest.raises(OftsrError) as info:  # code written for (lr, noise, t) must not get a graph it cannot feed
        read_spec(path, via=via)
    text = str(info.value)
    assert text.startswith(f"{path}: a two-time MeanFlow student (contract format 2") and "\n" not in text
    assert "one-step (format 1) models only" in text
    # a one-step model still reads with the flag: old files keep working everywhere
    assert read_spec(save(build(), tmp_path / "one.onnx"), via=via, allow_two_time=True) == SPEC


def test_one_step_metadata_is_byte_for_byte_the_old_format() -> None:
    data = json.loads(SPEC.to_json())
    assert "method" not in data and "default_steps" not in data and data["format_version"] == 1
    assert json.loads(SPEC2.to_json())["method"] == "meanflow" and ModelSpec.from_json(SPEC2.to_json()) == SPEC2


TWO_TIME_BREACHES = {
    "v2 metadata on a one-step graph": (lambda: build(metadata=SPEC2.to_json()),
                                        "inputs ['lr', 'noise', 't'] / outputs ['hr'] do not match"),
    "a folded r": (lambda: build_two_time(r_used=False), "input 'r' feeds no node"),
    "state and r swapped": (lambda: build_two_time(names=("lr", "noise", "t", "r", "state")), "do not match"),
    "v2 without default_steps": (lambda: build_two_time(metadata=json.dumps(
        {k: v for k, v in json.loads(SPEC2.to_json()).items() if k != "default_steps"})), "lacks default_steps"),
    "v2 that says oftsr": (lambda: build_two_time(metadata=SPEC2.to_json().replace('"meanflow"', '"oftsr"')),
                           "a format-2 model is a meanflow student"),
    "v1 that says meanflow": (lambda: build(metadata=_meta(method="meanflow")), "format-1 (one-step) model is an oftsr"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TWO_TIME_BREACHES))
def test_two_time_breaches_are_one_line_errors(tmp_path: Path, case: str) -> None:
    make, message = TWO_TIME_BREACHES[case]
    path = save(make(), tmp_path / "broken.onnx")
    with pytest.raises(OftsrError) as info:
        read_spec(path, via="onnx", allow_two_time=True)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_two_time_shapes_and_feeds() -> None:
    shapes = contract.io_shapes(SPEC2, 2, 8, 12)
    assert shapes["state"] == shapes["next_state"] == shapes["hr"] == (2, 3, 32, 48) and shapes["r"] == (2,)
    assert contract.dim_names(2, two_time=True)["state"] == ("N", 3, "2*h", "2*w")
    assert contract.dim_names(2, two_time=True)["r"] == ("N",)
    lr, noise = np.zeros((2, 3, 4, 4), np.float32), np.ones((2, 3, 16, 16), np.float64)
    feed = contract.feeds(lr, noise, [0.5, 0.25], state=noise * 2, r=0.1)
    assert list(feed) == ["lr", "noise", "t", "state", "r"]
    assert feed["r"].tolist() == pytest.approx([0.1, 0.1]) and feed["state"].dtype == np.float32
    with pytest.raises(ValueError, match="both state and r"):
        contract.feeds(lr, noise, 0.5, state=noise)
    first = contract.first_step_feeds(SPEC2, lr, noise, [0.5, 0.5])
    assert not first["state"].any() and first["r"].tolist() == [0.0, 0.0]
    assert list(contract.first_step_feeds(SPEC, lr, noise, 0.5)) == ["lr", "noise", "t"]
