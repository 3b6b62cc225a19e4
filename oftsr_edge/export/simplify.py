"""Graph simplification after tracing: constant folding, dead-node and shape-chain removal.

onnxslim is the default: it is pure Python (installs on a Jetson without cmake), keeps the named dynamic dims and,
measured on the ``small`` student at opset 18, leaves a graph as small and as fast on ONNX Runtime as onnxsim's
(see docs in the export report). onnxsim stays selectable; ``none`` keeps the exporter's graph as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oftsr_edge.errors import OftsrError

if TYPE_CHECKING:
    import onnx

SIMPLIFIERS = ("onnxslim", "onnxsim", "none")
DEFAULT_SIMPLIFIER = "onnxslim"


def simplify(model: onnx.ModelProto, simplifier: str = DEFAULT_SIMPLIFIER) -> onnx.ModelProto:
    """Return a simplified copy of ``model`` (or ``model`` itself for ``none``); a failure is one OftsrError line."""
    if simplifier not in SIMPLIFIERS:
        raise OftsrError(f"unknown simplifier {simplifier!r}: choose one of {', '.join(SIMPLIFIERS)}")
    if simplifier == "none":
        return model
    try:
        if simplifier == "onnxslim":
            import onnxslim

            return onnxslim.slim(model)
        import onnxsim

        simplified, ok = onnxsim.simplify(model)
    except ImportError:
        raise OftsrError(
            f"--simplifier {simplifier} needs the {simplifier} package: pip install {simplifier}"
        ) from None
    except Exception as exc:  # both tools raise assorted types; the user needs the tool and the first line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OftsrError(
            f"{simplifier} failed on the exported graph ({first}); try --simplifier none"
        ) from None
    if not ok:
        raise OftsrError("onnxsim could not validate its simplified graph; try --simplifier onnxslim or none")
    return simplified
