"""The name an exported model carries (its file names, its metadata, eval's rows, ``oftsr-edge models FILE``).

A user's model is named after its run (``--name``, default the run folder's name), never after a bundled model:
a file called ``oftsr-flat48x8-x4_fp32.onnx`` that is not the bundled one would be mistaken for it in eval tables,
reports and ``oftsr-edge models``. Releasing a new version of a bundled model is the one case for its name, and
says so (``--bundled``).
"""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.errors import OftsrError


def run_folder(checkpoint: Path) -> Path:
    """The run folder of a checkpoint argument: the run itself, ``RUN/checkpoints/step_N`` or a weights file."""
    path = checkpoint.resolve()
    if path.is_file():
        path = path.parent
    if path.parent.name == "checkpoints":
        path = path.parent.parent
    return path


def _bundled_names() -> set[str]:
    from oftsr_edge.runtime.models import CARDS_FILE, MODELS_DIR, bundled_cards

    return set(bundled_cards()) if (MODELS_DIR / CARDS_FILE).is_file() else set()


def export_name(checkpoint: Path, name: str | None, bundled: bool = False) -> str | None:
    """The model's name for ``export``: ``name``, else the run folder's name; None for an .onnx input (it keeps
    its own). A bundled model's name is refused unless ``bundled``."""
    if checkpoint.suffix == ".onnx":
        if name is not None:
            raise OftsrError("--name applies to a checkpoint; an .onnx input keeps its name (export its run again)")
        return None
    if name is not None and not name.strip():
        raise OftsrError("--name must not be empty")
    chosen = name if name is not None else run_folder(checkpoint).name
    if chosen in _bundled_names() and not bundled:
        where = "--name" if name is not None else f"the run folder's name ({run_folder(checkpoint)})"
        raise OftsrError(
            f"{where} {chosen!r} is a bundled model's name: your model would be mistaken for it; pass "
            "--name NEW (or --bundled when releasing a new version of that bundled model)"
        )
    return chosen
