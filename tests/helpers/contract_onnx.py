"""A hand-built ONNX that keeps the model contract (docs/architecture.md §3) without any training.

Why: the reliability suite feeds the runtime hundreds of bad inputs and faults; what it tests is the handling around
the network, not the network, so a graph that is milliseconds to build and to run (no torch) keeps the suite fast.
The graph is ``hr = clip(nearest_upsample(lr) + 0.05·t·noise, 0, 1)``: every input is used, t is live.
"""

from __future__ import annotations

from pathlib import Path


def make_contract_onnx(
    path: Path,
    *,
    scale: int = 4,
    multiple_of: int = 4,
    metadata_scale: int | None = None,
    dim_scale: int | None = None,
    name: str = "contract-x4",
) -> Path:
    """Write the graph for ``scale`` to ``path``. ``metadata_scale`` makes the metadata lie about the scale (a
    model that fails at run time); ``dim_scale`` is the scale the symbolic axis names carry (``4*h``; default: the
    metadata's, as an export of that metadata would write)."""
    import onnx
    from onnx import TensorProto, helper

    from oftsr_edge import contract

    said = metadata_scale or scale
    spec = contract.ModelSpec(name=name, scale=said, sigma_p=0.1, multiple_of=multiple_of, default_t=0.5,
                              precision="fp32", opset=17, tile=8 * multiple_of, degradation="bicubic",
                              checkpoint_sha256="0" * 64)  # fmt: skip
    dims = contract.dim_names(dim_scale or said)
    value = {n: helper.make_tensor_value_info(n, TensorProto.FLOAT, list(d)) for n, d in dims.items()}
    consts = [
        helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, float(scale), float(scale)]),
        helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0]),
    ]
    lr, noise, t, hr = contract.INPUT_LR, contract.INPUT_NOISE, contract.INPUT_T, contract.OUTPUT_HR
    nodes = [
        helper.make_node("Resize", [lr, "", "scales"], ["up"], mode="nearest"),
        helper.make_node("Unsqueeze", [t, "axes"], ["t4"]),
        helper.make_node("Mul", ["t4", "gain"], ["tg"]),
        helper.make_node("Mul", [noise, "tg"], ["tn"]),
        helper.make_node("Add", ["up", "tn"], ["raw"]),
        helper.make_node("Clip", ["raw", "lo", "hi"], [hr]),
    ]
    graph = helper.make_graph(nodes, name, [value[lr], value[noise], value[t]], [value[hr]], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, contract.metadata_props(spec))
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
