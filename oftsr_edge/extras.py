"""Check optional dependency groups before a command needs them, so a missing extra is one clear line."""

from __future__ import annotations

import importlib
import importlib.util

from oftsr_edge.errors import MissingExtraError


def require(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` naming ``extra`` if any of ``modules`` cannot be imported.

    ``find_spec`` alone is not enough: a module set to ``None`` in ``sys.modules`` (how tests hide torch) or one
    whose import fails must count as missing too, so each module is really imported.
    """
    missing = []
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
                continue
            importlib.import_module(name)
        except (ImportError, ValueError):
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"this command needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install 'oftsr-edge[{extra}]' (install torch==2.13.0 first if the extra needs torch)"
        )
