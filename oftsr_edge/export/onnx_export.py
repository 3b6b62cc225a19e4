"""Trace a student checkpoint to the ONNX contract of docs/architecture.md §3 and write it with its :class:`ModelSpec`.

The traced module is :class:`oftsr_edge.train.onestep.OneStepSR` for a one-step (OFTSR) student (contract format 1)
and :class:`~oftsr_edge.train.onestep.TwoTimeStepSR` for a two-time (MeanFlow) student (format 2: state and r inputs,
a next_state output). A pretrained base (SMFANet) is traced in its inference form
(:mod:`oftsr_edge.train.smfanet_inference`): the same function in the ops ONNX Runtime's CPU provider runs fastest.
Range mapping, bicubic upsample, x0, the network, the residual adds and the clamp are all inside the graph, so every
backend computes the same thing. ``t`` (and ``r``) are graph inputs of shape [N]; they
feed the sinusoidal embeddings, so no exporter can fold them to constants (:func:`write_model` checks every written
file with :func:`oftsr_edge.contract.read_spec`, which proves it).

Two exporters, chosen by opset, because each one fails where the other works (measured with torch 2.13):
the dynamo exporter is the default (opset 18–21) but emits an invalid ``Split`` at opset 17; the TorchScript
exporter handles opset 17, which TensorRT 8.5/8.6 (JetPack 5.1/6.0) need.

torch is imported inside the functions that trace, so :func:`write_model` (used by the FP16/INT8 steps) does not
pull torch in.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import atomic_path, sha256_file
from oftsr_edge.version import __version__

if TYPE_CHECKING:
    import onnx

    from oftsr_edge.train.checkpoint import Checkpoint
    from oftsr_edge.train.onestep import OneStepSR

DEFAULT_OPSET = 18
TORCHSCRIPT_OPSET = 17  # the dynamo exporter's opset-17 graphs fail onnx.checker (Split num_outputs)
SUPPORTED_OPSETS = range(17, 22)
DEFAULT_TILE = 128
DEFAULT_T = 0.5
DEFAULT_STEPS = 1


def load_student(checkpoint: str | os.PathLike) -> tuple[OneStepSR, Checkpoint]:
    """The graph's module built from a *student* checkpoint's EMA weights (a teacher is a one-line error):
    :class:`OneStepSR` for a one-time network, :class:`TwoTimeStepSR` for a two-time (MeanFlow) one."""
    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.onestep import OneStepSR, TwoTimeStepSR

    ckpt = load_checkpoint(checkpoint, kind="student")
    module = TwoTimeStepSR if ckpt.model_config.times == 2 else OneStepSR
    return module(ckpt.build_model("ema"), ckpt.sigma_p).eval(), ckpt


def spec_from_checkpoint(
    ckpt: Checkpoint,
    *,
    opset: int = DEFAULT_OPSET,
    tile: int = DEFAULT_TILE,
    default_t: float = DEFAULT_T,
    default_steps: int = DEFAULT_STEPS,
    name: str | None = None,
) -> ModelSpec:
    """The fp32 model's metadata, filled from the checkpoint's config; bad knobs are one-line errors. A two-time
    student gets contract format 2 (method meanflow, ``default_steps``); ``default_steps`` > 1 needs one.
    ``name``: the model's name (None = the checkpoint's)."""

    config = ckpt.config
    model_cfg = ckpt.model_config
    multiple = model_cfg.multiple_of
    if tile <= 0 or tile % multiple:
        raise OftsrError(
            f"--tile {tile} must be a positive multiple of {multiple} (the model's LR size multiple)"
        )
    if not 0.0 <= default_t <= 1.0:
        raise OftsrError(f"default t must be in [0, 1], got {default_t}")
    from oftsr_edge.few_step import check_steps

    two_time = model_cfg.times == 2
    check_steps(default_steps, two_time, model=str(config.get("name") or ckpt.path))
    versions = {"format_version": contract.TWO_TIME_FORMAT_VERSION, "method": "meanflow"} if two_time else {}
    return ModelSpec(
        name=name or str(config.get("name") or f"oftsr-{model_cfg.name}-x{ckpt.scale}"),
        scale=ckpt.scale,
        sigma_p=ckpt.sigma_p,
        multiple_of=multiple,
        default_t=float(default_t),
        precision="fp32",
        opset=int(opset),
        tile=int(tile),
        degradation=str(config.get("degradation", "unknown")),
        checkpoint_sha256=sha256_file(ckpt.weights_path),
        default_steps=int(default_steps),
        **versions,
    )


def check_opset(opset: int) -> None:
    if opset not in SUPPORTED_OPSETS:
        raise OftsrError(
            f"--opset {opset} is not supported: use {TORCHSCRIPT_OPSET} (TensorRT 8.5/8.6) "
            f"or {SUPPORTED_OPSETS.start + 1}-{SUPPORTED_OPSETS.stop - 1}"
        )


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporters print progress, deprecation and torchvision notices that mean nothing to a user here."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _names(model: OneStepSR) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if model.two_time:
        return contract.TWO_TIME_INPUT_NAMES, contract.TWO_TIME_OUTPUT_NAMES
    return contract.INPUT_NAMES, contract.OUTPUT_NAMES


def trace(model: OneStepSR, multiple_of: int, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Export ``model`` with dynamic N/h/w; the I/O dimensions are then named ``N, h, w`` and ``s*h, s*w``."""
    import torch

    check_opset(opset)
    s, m = model.scale, multiple_of
    # distinct tensors for distinct inputs, batch 2 and h != w: torch.export specialises dims equal to 0/1 and
    # merges equal ones, and the same tensor passed twice silently exports a wrong graph
    gen = torch.Generator().manual_seed(0)
    h, w = 4 * m, 5 * m
    example: tuple = (
        torch.rand(2, 3, h, w, generator=gen),
        torch.randn(2, 3, h * s, w * s, generator=gen),
        torch.tensor([0.3, 0.7]),
    )
    if model.two_time:
        example += (0.1 * torch.randn(2, 3, h * s, w * s, generator=gen), torch.tensor([0.1, 0.2]))
    with _quiet_exporter(), torch.no_grad():
        if opset == TORCHSCRIPT_OPSET:
            proto = _trace_torchscript(model, example, opset)
        else:
            proto = _trace_dynamo(model, example, opset, m)
    name_io_dims(proto, s)
    return proto


def _trace_torchscript(model: OneStepSR, example: tuple, opset: int) -> onnx.ModelProto:
    import onnx
    import torch

    named = contract.dim_names(model.scale, two_time=model.two_time)
    axes = {name: {i: d for i, d in enumerate(dims) if isinstance(d, str)} for name, dims in named.items()}
    buffer = io.BytesIO()
    inputs, outputs = _names(model)
    torch.onnx.export(model, example, buffer, input_names=list(inputs), output_names=list(outputs),
                      dynamic_axes=axes, opset_version=opset, dynamo=False)  # fmt: skip
    return onnx.load_from_string(buffer.getvalue())


def _trace_dynamo(model: OneStepSR, example: tuple, opset: int, multiple_of: int) -> onnx.ModelProto:
    """h and w are declared as multiples of ``multiple_of``; the noise dims follow from the graph (s·h, s·w)."""
    import torch
    from torch.export import Dim

    m = multiple_of
    batch = Dim("N")
    h_dim = Dim("h") if m == 1 else m * Dim("h_m")
    w_dim = Dim("w") if m == 1 else m * Dim("w_m")
    shapes = {
        contract.INPUT_LR: {0: batch, 2: h_dim, 3: w_dim},
        contract.INPUT_NOISE: {0: batch, 2: Dim.AUTO, 3: Dim.AUTO},
        contract.INPUT_T: {0: batch},
    }
    if model.two_time:
        shapes.update({contract.INPUT_STATE: {0: batch, 2: Dim.AUTO, 3: Dim.AUTO}, contract.INPUT_R: {0: batch}})
    inputs, outputs = _names(model)
    program = torch.onnx.export(model, example, input_names=list(inputs), output_names=list(outputs),
                                dynamic_shapes=shapes, opset_version=opset, dynamo=True, verbose=False)  # fmt: skip
    return program.model_proto


def name_io_dims(model: onnx.ModelProto, scale: int) -> None:
    """Give the I/O dims the contract's names and drop intermediate shape annotations.

    Exporters and simplifiers invent symbols (``s60``, ``2*h2``); the contract names them. The stale intermediate
    ``value_info`` is dropped because it still uses the old symbols (ModelOpt AutoCast trips over it).
    """
    names = contract.dim_names(scale, two_time=True)  # a superset: format-1 graphs have only their own I/O
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name not in names:
            continue
        dims = value.type.tensor_type.shape.dim
        wanted = names[value.name]
        if len(dims) != len(wanted):
            raise OftsrError(f"exported graph: {value.name} has rank {len(dims)}, expected {len(wanted)}")
        for dim, name in zip(dims, wanted):
            dim.Clear()
            if isinstance(name, int):
                dim.dim_value = name
            else:
                dim.dim_param = name
    del model.graph.value_info[:]


def write_model(model: onnx.ModelProto, path: Path, spec: ModelSpec) -> Path:
    """Embed ``spec``, check the contract and onnx.checker, then write atomically (temp name + rename).

    Every file the exporter writes goes through here, so none can miss its metadata or break the I/O contract.
    """
    import onnx

    onnx.helper.set_model_props(model, contract.metadata_props(spec))
    model.producer_name = "oftsr-edge"
    model.producer_version = __version__
    if spec.two_time:
        what = f"MeanFlow two-time x{spec.scale} super-resolution step, inputs {'/'.join(spec.input_names)}"
    else:
        what = f"OFTSR one-step x{spec.scale} super-resolution, inputs {'/'.join(spec.input_names)}"
    model.doc_string = f"{spec.name} ({spec.precision}): {what}"
    contract.read_spec(model, expect_precision=spec.precision, allow_two_time=True)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OftsrError(f"the {spec.precision} graph of {spec.name} fails onnx.checker: {first}") from None
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return path


def export_onnx(
    checkpoint: str | os.PathLike,
    output: Path,
    *,
    opset: int = DEFAULT_OPSET,
    tile: int = DEFAULT_TILE,
    default_t: float = DEFAULT_T,
    simplifier: str = "onnxslim",
    default_steps: int = DEFAULT_STEPS,
    name: str | None = None,
) -> Path:
    """Export a student checkpoint to the fp32 ONNX file ``output`` (simplified, checked, metadata embedded);
    ``name`` (None = the checkpoint's) is the model's name in its metadata.

    Numerical verification against PyTorch is separate (:func:`oftsr_edge.export.verify.verify_against_torch`),
    so fixtures can export quickly; the CLI runs both.
    """
    from oftsr_edge.export.simplify import simplify

    check_opset(opset)
    model, ckpt = load_student(checkpoint)
    spec = spec_from_checkpoint(ckpt, opset=opset, tile=tile, default_t=default_t, default_steps=default_steps,
                                name=name)
    proto = simplify(trace(inference_form(model), spec.multiple_of, opset), simplifier)
    name_io_dims(proto, spec.scale)
    return write_model(proto, Path(output), spec)


def inference_form(model: OneStepSR) -> OneStepSR:
    """``model`` with its pretrained base (if any) swapped for the base's inference form: the same function, in
    the ops ONNX Runtime's CPU provider runs fastest (:mod:`oftsr_edge.train.smfanet_inference`). Only the traced
    graph changes; verification compares the graph with the reference modules."""
    from oftsr_edge.train.smfanet_inference import SMFANetInference

    base = model.student.base
    if base is not None and not isinstance(base, SMFANetInference):
        model.student.base = SMFANetInference(base)
    return model
