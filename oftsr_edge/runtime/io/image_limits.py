"""Limits an image meets or fails before any work: the output format's size limits and the memory one image needs.

Why before: a JPEG wider than 65500 pixels failed only after the whole upscale had run, and an image whose output
does not fit in memory ended in numpy's MemoryError (a traceback, and the rest of the folder lost). Both are known
from the input's header, the model's scale and the memory model, so a run refuses that image in one line and goes
on with the next.
"""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.errors import NotEnoughMemoryError, OftsrError
from oftsr_edge.runtime.device import memory
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.tiling import memory_plan

#: largest width/height per format (libjpeg's JPEG_MAX_DIMENSION, libwebp's WEBP_MAX_DIMENSION, PNG's 2**31 - 1)
MAX_EDGE = {"JPEG": 65500, "WEBP": 16383, "PNG": 2**31 - 1}
#: formats whose offsets are 32-bit: an uncompressed file over 4 GiB cannot be written (classic TIFF, BMP)
MAX_BYTES = {"TIFF": 2**32 - 1, "BMP": 2**32 - 1}


def check_output_size(target: Path, height: int, width: int, channels: int = 3, itemsize: int = 1) -> None:
    """Refuse an output of ``height × width`` that ``target``'s format cannot hold."""
    fmt = image_io.format_for(target)
    edge = MAX_EDGE.get(fmt)
    if edge is not None and max(height, width) > edge:
        raise OftsrError(f"{target}: the output would be {width}x{height} pixels, over the {fmt} limit of {edge} per "
                         "side; write .png or .tif instead (-f png)")  # fmt: skip
    size = MAX_BYTES.get(fmt)
    if size is not None and height * width * channels * itemsize > size:
        raise OftsrError(f"{target}: the output would be {height * width * channels * itemsize / 2**30:.1f} GiB "
                         f"uncompressed, over the {fmt} limit of 4 GiB; write .png instead (-f png)")  # fmt: skip


def check_memory(what: str, needed: int) -> None:
    """Refuse ``what`` (an image) when the estimated ``needed`` bytes exceed the memory this process can still
    use (:func:`~oftsr_edge.runtime.device.memory.available_ram_bytes`; unknown = not checked)."""
    free = memory.available_ram_bytes()
    if free is not None and needed > free:
        raise NotEnoughMemoryError(
            f"{what}: needs ~{needed / memory_plan.MIB:,.0f} MiB of memory to upscale, but only "
            f"~{free / memory_plan.MIB:,.0f} MiB is available; a smaller input (or more memory) is needed"
        )
