"""One test call when a model is opened, so a model whose metadata does not describe its graph fails at once, in
one line that says so, instead of with a shape error from deep inside the graph on the first image.

The contract check (:func:`oftsr_edge.contract.validate`) already compares the metadata's scale with the HR axis
names an export writes; this catches the graphs whose names say nothing (or agree with a wrong metadata): the
smallest input the model takes, with noise at the metadata's scale, must come back at that scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.backends.base import Backend


def check_scale(backend: Backend, source: str | Path) -> None:
    """Run ``backend`` once on a ``multiple_of``² LR tile of zeros; refuse the model if its graph does not upscale
    by the metadata's scale. Fixed-shape backends (TensorRT profiles) are built and checked elsewhere: skipped."""
    if backend.fixed_shape:
        return
    spec = backend.spec
    edge, scale = spec.multiple_of, spec.scale
    lr = np.zeros((1, 3, edge, edge), np.float32)
    noise = np.zeros((1, 3, scale * edge, scale * edge), np.float32)
    try:
        # at the model's default t: ort-cpu opens a session per t value, and most calls then reuse this one
        hr = np.asarray(backend.run(lr, noise, spec.default_t))
    except OftsrError as exc:
        raise OftsrError(
            f"{source}: a {edge}x{edge} test call at the metadata's scale x{scale} fails, so the metadata does not "
            f"describe this graph ({exc})"
        ) from None
    if hr.shape != noise.shape:
        raise OftsrError(
            f"{source}: the metadata says x{scale}, but the graph turns a {edge}x{edge} tile into "
            f"{'x'.join(map(str, hr.shape[2:]))}; its metadata does not describe it"
        )


def check_scale_option(scale: int | None, spec: ModelSpec) -> None:
    """``--scale`` is a check, never a resize: it must be the model's."""
    if scale is not None and scale != spec.scale:
        raise OptionError(
            f"--scale {scale}: {spec.name} upscales x{spec.scale} (outputs are never resized; "
            "'oftsr-edge models' lists the bundled models and their scales)"
        )
