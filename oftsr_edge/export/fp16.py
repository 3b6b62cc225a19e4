"""FP16 variant of an exported model, with the precision-sensitive parts kept in float32 (docs/architecture.md §3).

Which parts stay float32, and why:

- nodes that depend on one graph input only, or on the times alone: the t path (sinusoidal embedding of 1000·t,
  the MLP, the FiLM linears; fp16 loses the embedding's high frequencies, a known source of black/NaN outputs; a
  two-time graph's r and s − r embeddings too) and the per-input pre-processing of ``lr`` (range mapping, bicubic
  upsample), ``noise`` (σp scaling) and ``state``. They are cheap: the time path runs once per image, the rest are a
  few element-wise ops and one 3-channel conv;
- the output tails, from the last matrix op to each output: x0 + v, the range mapping and the clamp of ``hr`` (and
  a two-time graph's ``next_state``, state + (t − r)·u/2, which the next step adds to). x0 is added to the velocity
  as is, so its rounding would go straight into the image;
- norms and softmax by op type, for architectures that have them (ours has none).

:func:`full_precision_nodes` finds those regions from the graph structure alone (no node names), so it works on
the dynamo and the TorchScript exporter's graphs, simplified or not; the INT8 step excludes the same nodes.
The conversion itself is ONNX Runtime's maintained converter (``onnxruntime.transformers.float16``), with float32
I/O (``keep_io_types``); onnxconverter-common's copy emitted graphs ONNX Runtime rejects when given a block list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oftsr_edge.contract import INPUT_R, INPUT_T, read_spec
from oftsr_edge.errors import OftsrError

if TYPE_CHECKING:
    import onnx

MATRIX_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
TIME_INPUTS = frozenset({INPUT_T, INPUT_R})  # a node fed by these alone is part of the time path
FP32_OP_TYPES = (
    "BatchNormalization",
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "RMSNormalization",
    "Softmax",
    "LogSoftmax",
    "Sin",
    "Cos",
    "Exp",
    "Pow",
    "Sqrt",
    "ReduceMean",
)


def name_nodes(model: onnx.ModelProto) -> None:
    """Give every node a unique name: block lists and exclusions address nodes by name."""
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def input_dependencies(model: onnx.ModelProto) -> dict[str, frozenset[str]]:
    """For every node name, the graph inputs it (transitively) depends on; nodes are in topological order."""
    graph = model.graph
    inputs = {v.name for v in graph.input} - {init.name for init in graph.initializer}
    tensor_deps: dict[str, frozenset[str]] = {name: frozenset({name}) for name in inputs}
    node_deps = {}
    for node in graph.node:
        deps = frozenset().union(*(tensor_deps.get(name, frozenset()) for name in node.input if name))
        node_deps[node.name] = deps
        for out in node.output:
            tensor_deps[out] = deps
    return node_deps


def output_tail(model: onnx.ModelProto) -> set[str]:
    """Nodes between the last matrix ops and the outputs (``hr``; ``next_state`` of a two-time graph): walking
    back from each output, stop at Conv/Gemm/MatMul."""
    producers = {out: node for node in model.graph.node for out in node.output}
    tail: set[str] = set()
    stack = [output.name for output in model.graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in tail or node.op_type in MATRIX_OPS:
            continue
        tail.add(node.name)
        stack.extend(name for name in node.input if name)
    return tail


def full_precision_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that must stay float32 in FP16/INT8 variants (see the module docstring)."""
    name_nodes(model)
    deps = input_dependencies(model)
    single_input = {name for name, d in deps.items() if len(d) == 1 or (d and d <= TIME_INPUTS)}
    keep = (
        single_input | output_tail(model) | {n.name for n in model.graph.node if n.op_type in FP32_OP_TYPES}
    )
    return [node.name for node in model.graph.node if node.name in keep]


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The FP16 graph of an FP32 contract graph: float32 I/O, :func:`full_precision_nodes` in float32."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    keep = full_precision_nodes(model)
    try:
        converted = convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=sorted(set(DEFAULT_OP_BLOCK_LIST) | set(FP32_OP_TYPES)),
            node_block_list=keep,
        )
    except Exception as exc:  # the converter raises assorted types
        raise OftsrError(f"FP16 conversion failed: {type(exc).__name__}: {exc}") from None
    return tidy_casts(converted)


def tidy_casts(model: onnx.ModelProto) -> onnx.ModelProto:
    """Repair what the converter leaves: float32→float16→float32 round trips and an unsorted node list.

    The converter casts every block-listed node's output to float16 and back before the next block-listed node,
    so a float32 region would still be rounded to float16 between its ops. Removing those round trips is what
    makes the kept regions really float32. It also appends its I/O casts at the end; ONNX needs topological order.
    """
    import onnx_ir as ir
    from onnx_ir.passes import PassManager
    from onnx_ir.passes.common import IdentityEliminationPass, RemoveUnusedNodesPass, TopologicalSortPass
    from onnxscript.rewriter import RewritePass, RewriteRuleClassBase

    class Float32RoundTrip(RewriteRuleClassBase):
        """``Cast(Cast(x: float32, to=float16), to=float32)`` → ``x``."""

        def pattern(self, op: Any, x: ir.Value) -> ir.Value:
            return op.Cast(op.Cast(x, to=ir.DataType.FLOAT16), to=ir.DataType.FLOAT)

        def check(self, context: Any, x: ir.Value) -> bool:
            return x.dtype == ir.DataType.FLOAT

        def rewrite(self, op: Any, x: ir.Value) -> ir.Value:
            return op.Identity(x)

    passes = PassManager(
        (
            TopologicalSortPass(),
            RewritePass([Float32RoundTrip.rule(remove_nodes=False)]),  # the float16 cast may have other users
            IdentityEliminationPass(),
            RemoveUnusedNodesPass(),
            TopologicalSortPass(),
        )
    )
    return ir.to_proto(passes(ir.from_proto(model)).model)


def convert_fp16(fp32_path: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write the FP16 sibling of the FP32 export ``fp32_path`` to ``output`` (metadata says fp16)."""
    import onnx

    from oftsr_edge.export.onnx_export import write_model

    spec = read_spec(fp32_path, expect_precision="fp32", allow_two_time=True)
    model = onnx.load(str(fp32_path))
    return write_model(to_fp16(model), Path(output), spec.with_precision("fp16"))
