"""One exception type for every problem a user can fix (bad file, bad option, missing extra).

The CLI turns an :class:`OftsrError` into one line on stderr and a non-zero exit instead of a traceback; library
callers catch it like any other exception.
"""

from __future__ import annotations


class OftsrError(Exception):
    """A user-facing error: the message is one line that names the problem and, where possible, the fix."""

    exit_code = 2


class OptionError(OftsrError):
    """An option value that no input can make right (t, seed, tile, overlap, batch, device, threads): a run over
    many files stops at the first one instead of reporting the same line once per file."""


class MissingExtraError(OftsrError):
    """A command needs an optional dependency group (``pip install 'oftsr-edge[extra]'``) that is not installed."""


class NotEnoughMemoryError(OftsrError):
    """An image needs more memory than this process can get: refused before allocating (or when an allocation
    failed), so a run reports it in one line and goes on with the next image."""
