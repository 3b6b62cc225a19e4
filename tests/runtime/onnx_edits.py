"""Variants of an exported ONNX for runtime tests: other metadata, no metadata, or a graph that outputs NaN.

Test-side only (uses the onnx package); the runtime under test never imports onnx.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from oftsr_edge.contract import METADATA_KEY, OUTPUT_HR


def edit_onnx(
    src: Path, dst: Path, *, metadata: dict | None = None, drop_metadata: bool = False, poison: bool = False
) -> Path:
    """Copy ``src`` to ``dst``, updating fields of its oftsr_edge metadata, dropping it, or making ``hr`` NaN."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    entries = {p.key: p.value for p in model.metadata_props}
    del model.metadata_props[:]
    if not drop_metadata:
        spec = json.loads(entries[METADATA_KEY])
        spec.update(metadata or {})
        onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(spec, sort_keys=True)})
    if poison:
        for node in model.graph.node:
            node.output[:] = ["hr_raw" if name == OUTPUT_HR else name for name in node.output]
        model.graph.initializer.append(
            numpy_helper.from_array(np.array(np.nan, dtype=np.float32), "nan_scalar")
        )
        model.graph.node.append(helper.make_node("Mul", ["hr_raw", "nan_scalar"], [OUTPUT_HR], name="poison"))
    onnx.save(model, str(dst))
    return dst
