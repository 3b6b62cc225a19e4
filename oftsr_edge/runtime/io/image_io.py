"""Image files in and out with Pillow, keeping what the user expects: bit depth, gray vs colour, alpha, orientation.

Reading returns a plain numpy array whose layout says what the image is: (H, W) gray, (H, W, 2) gray + alpha,
(H, W, 3) RGB, (H, W, 4) RGBA; uint8, or uint16 for 16-bit sources. EXIF orientation is applied (the array is
upright); palette, CMYK, YCbCr, 1-bit and premultiplied modes are converted. 16-bit colour PNGs, which Pillow would
truncate to 8 bits, go through :mod:`oftsr_edge.runtime.io.png16`.

Writing picks the format from the extension and stores 16-bit data as 16-bit PNG or TIFF (colour TIFF through
:mod:`oftsr_edge.runtime.io.tiff16`); PNGs are encoded by :mod:`oftsr_edge.runtime.io.encode` (fast deflate level 1 by
default, ``png_compression`` up to 9 for smaller files), the other formats by Pillow (``quality`` for JPEG and WebP);
formats without 16-bit or alpha support get 8 bits / lose alpha (JPEG, BMP; WebP is 8-bit), with a one-line warning
when real transparency is dropped. Every file is written to a temp name in the target folder and renamed into
place, so a failed or interrupted write never leaves a partial output. Colour (:mod:`oftsr_edge.runtime.io.colour`):
an embedded ICC profile is converted to sRGB on reading, and outputs are tagged sRGB; a PNG tRNS colour key becomes
an alpha channel. EXIF is not copied: the output is already upright. A short ``note`` (the settings that made the
output, :mod:`oftsr_edge.runtime.provenance`) can be stored as the EXIF ImageDescription, which PNG, JPEG, WebP and
TIFF carry and :func:`read_note` reads back without decoding pixels; BMP has no place for it.

Every problem with a file is one :class:`OftsrError` line naming it. Guards: only regular files are opened (a FIFO
or device would block or never end); images over :func:`max_pixels` are refused from their header, before any
pixel memory is allocated (Pillow's decompression-bomb limit, applied to the 16-bit reader too; ``--max-pixels``
raises it); an animated or multi-frame file is read as its first frame, with a warning that says so.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import atomic_open
from oftsr_edge.runtime.io import colour, encode, png16, tiff16
from oftsr_edge.runtime.io.encode import PNG_COMPRESSION

_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
#: JPEG and WebP quality when none is given
QUALITY = 95

#: extension -> Pillow format name; the files a directory run picks up, and the outputs it can write
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_TO_RGB = {
    "1": "L",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
    "PA": "RGBA",
}
_ORIENTATION_TAG = 0x0112
_DESCRIPTION_TAG = 0x010E
# everything Pillow's plugins raise on a corrupt file; TypeError/KeyError: the TIFF plugin turns a missing
# ImageWidth tag into TypeError("Missing dimensions") from a KeyError (found by tests/reliability's mutated files)
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError)
#: formats that can carry a note (everything but BMP)
NOTE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")


def max_pixels() -> int | None:
    """The largest image (in pixels) a read accepts: what Pillow refuses as a decompression bomb (twice its
    ``MAX_IMAGE_PIXELS``), for every reader; None = no limit."""
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else int(2 * limit)


def set_max_pixels(limit: int | None) -> None:
    """Raise (or lower) the decompression-bomb limit for this process; None = no limit (trusted inputs only)."""
    Image.MAX_IMAGE_PIXELS = None if limit is None else (int(limit) + 1) // 2
    # Pillow warns from half its refusal size on; the limit is what counts, so its warning is noise
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def check_pixels(source: str, width: int, height: int) -> None:
    """Refuse an image whose header declares more pixels than :func:`max_pixels`, before its pixels are read."""
    limit = max_pixels()
    if limit is not None and width * height > limit:
        raise _too_many(source, width * height, limit)


def _too_many(source: str, pixels: int | None, limit: int | None) -> OftsrError:
    """The one message of the decompression-bomb guard, whichever reader refused the image."""
    size = f"is {pixels:,} pixels" if pixels is not None else "is too large"
    over = f"over the limit of {limit:,}" if limit is not None else "over the limit"
    return OftsrError(f"{source}: {size}, {over} (a guard against decompression bombs); --max-pixels raises it "
                      "for trusted files")  # fmt: skip


def _bomb_pixels(exc: Exception) -> int | None:
    """The pixel count in Pillow's DecompressionBombError text ("Image size (N pixels) exceeds ...")."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else None


def check_regular_file(path: Path) -> None:
    """Refuse anything but a regular file (following links): reading a FIFO, socket or device would block or never
    end. Missing paths and folders get their own line."""
    source = str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise OftsrError(f"{source}: no such file") from None
    except OSError as exc:
        raise OftsrError(f"{source}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise OftsrError(f"{source}: is a directory, not an image")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise OftsrError(f"{source}: is {kind}, not a regular file; give an image file")


def _first_frame_note(image: Image.Image, source: str) -> None:
    frames = int(getattr(image, "n_frames", 1) or 1)
    if frames > 1:
        warnings.warn(f"{source}: has {frames} frames (animated or multi-page); only the first frame is upscaled",
                      RuntimeWarning, stacklevel=3)  # fmt: skip


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (sorted, hidden files skipped): the one definition of "the images in a folder"."""
    root = Path(folder)
    pattern = root.rglob("*") if recursive else root.glob("*")
    return sorted(p for p in pattern if p.is_file() and is_image_path(p) and not p.name.startswith("."))


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Any layout :func:`read_image` returns → (H, W, 3) uint8 RGB (gray replicated, alpha dropped, 16 bit rounded)."""
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] in (1, 2):  # gray, gray + alpha
        return np.repeat(pixels[..., :1], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


def format_for(path: Path) -> str:
    """Pillow format name for ``path``'s extension, or a one-line error listing the supported ones."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise OftsrError(
            f"{path}: unsupported image format {Path(path).suffix or '(no extension)'!r} "
            f"(supported: {', '.join(sorted(FORMATS))})"
        )
    return fmt


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1–8) to an (H, W[, C]) array, as Pillow's ``exif_transpose`` does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def _exif_orientation(payload: bytes | None) -> int:
    if not payload:
        return 1
    try:
        exif = Image.Exif()
        exif.load(payload if payload.startswith(b"Exif") else b"Exif\x00\x00" + payload)
        return int(exif.get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make a good image unreadable
        return 1


def _pixels_from_pillow(image: Image.Image, source: str) -> np.ndarray:
    """Pillow image → array: palettes expanded, a tRNS colour key made an alpha channel (before any colour
    conversion: the key names stored values), an ICC profile converted to sRGB (:mod:`colour`), odd modes
    converted."""
    mode = image.mode
    key = image.info.get("transparency")
    if mode == "P":
        image = image.convert("RGBA" if key is not None else "RGB")
    elif mode in ("L", "RGB") and key is not None:
        image = image.convert("LA" if mode == "L" else "RGBA")  # PNG tRNS: the key colour is transparent
    image = colour.to_srgb(image, source)
    if image.mode in _TO_RGB:
        image = image.convert(_TO_RGB[image.mode])
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image, dtype=np.uint8).copy()
    if mode.startswith("I;16"):
        values = np.asarray(image).astype(np.uint16)
        return _with_key_alpha(values, key) if isinstance(key, int) else values
    if mode == "I":
        return colour.int32_pixels(np.asarray(image), colour.declared_white(image), source)
    raise OftsrError(f"{source}: unsupported pixel mode {mode!r}")


def _with_key_alpha(gray: np.ndarray, key: int) -> np.ndarray:
    """16-bit gray with a tRNS key → gray + alpha (0 where the value is the key)."""
    alpha = np.where(gray == key, 0, 65535).astype(np.uint16)
    return np.stack([gray, alpha], axis=-1)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into an upright uint8/uint16 array (layouts in the module docstring)."""
    path = Path(path)
    source = str(path)
    check_regular_file(path)
    format_for(path)
    try:
        if png16.needs_png16(path):
            check_pixels(source, *png16.png_size(path))
            pixels, exif = png16.read_png16(path)
            return orient(pixels, _exif_orientation(exif))
        with Image.open(path) as image:
            check_pixels(source, *image.size)
            _first_frame_note(image, source)
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            return _pixels_from_pillow(upright, source)
    except OftsrError:
        raise
    except UnidentifiedImageError:
        raise OftsrError(f"{source}: not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise _too_many(source, _bomb_pixels(exc), max_pixels()) from None
    except MemoryError:
        raise OftsrError(f"{source}: not enough memory to decode this image") from None
    except _UNREADABLE as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OftsrError(f"{source}: corrupt or truncated image ({reason})") from None


def _prepare(pixels: np.ndarray, fmt: str, source: str) -> tuple[np.ndarray, bool]:
    """Fit ``pixels`` to what ``fmt`` stores; returns (array, write-as-16-bit-PNG)."""
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 2, 3, 4)):
        raise OftsrError(f"{source}: cannot write an array of shape {pixels.shape} as an image")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype == np.float32 or pixels.dtype == np.float64:
        pixels = np.rint(np.clip(pixels, 0.0, 1.0) * 65535.0).astype(np.uint16)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise OftsrError(f"{source}: cannot write {pixels.dtype} pixels")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if fmt in ("JPEG", "BMP") and channels in (2, 4):  # no alpha in these formats: drop it, and say so
        if pixels[..., -1].min() < np.iinfo(pixels.dtype).max:
            warnings.warn(f"{source}: {fmt} cannot hold transparency; the alpha channel is dropped (transparent "
                          "areas show their stored colour); write .png, .webp or .tif to keep it",
                          RuntimeWarning, stacklevel=3)  # fmt: skip
        pixels = pixels[..., : channels - 1]
        pixels = pixels[..., 0] if channels == 2 else pixels
    if pixels.dtype == np.uint16:
        if fmt == "PNG":
            return pixels, pixels.ndim == 3
        if fmt == "TIFF" and (pixels.ndim == 2 or pixels.shape[2] in (3, 4)):  # gray: Pillow; colour: tiff16
            return pixels, pixels.ndim == 3
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return pixels, False


def write_image(
    path: str | os.PathLike,
    pixels: np.ndarray,
    quality: int | None = None,
    note: str | None = None,
    png_compression: int = PNG_COMPRESSION,
) -> Path:
    """Write ``pixels`` to ``path`` atomically (temp file in the same folder + ``os.replace``); returns the path.

    ``quality``: JPEG/WebP quality 1–100 (None = :data:`QUALITY`); ``png_compression``: PNG deflate level 0–9.
    ``note``: ASCII text stored as the EXIF ImageDescription where the format has EXIF (not BMP)."""
    path = Path(path)
    source = str(path)
    fmt = format_for(path)
    pixels, wide = _prepare(pixels, fmt, source)
    exif = None
    if note is not None and fmt in NOTE_FORMATS:
        tags = Image.Exif()
        tags[_DESCRIPTION_TAG] = note
        exif = tags.tobytes()
    try:
        with atomic_open(path, "wb") as f:
            if fmt == "PNG":
                encode.write_png(f, pixels, png_compression, exif=exif, srgb=True)
            elif fmt == "TIFF" and wide:
                tiff16.write_tiff16(f, pixels, icc=colour.srgb_icc(), note=note)
            else:
                image = Image.fromarray(np.ascontiguousarray(pixels))
                options: dict = {"quality": quality or QUALITY} if fmt in ("JPEG", "WEBP") else {}
                if fmt != "BMP":
                    options["icc_profile"] = colour.srgb_icc()  # the pixels are sRGB (module colour)
                if exif is not None:
                    options["exif"] = exif
                image.save(f, format=fmt, **options)
    except (OSError, ValueError) as exc:
        raise OftsrError(f"{source}: cannot write ({getattr(exc, 'strerror', None) or exc})") from None
    return path


def image_layout(path: str | os.PathLike) -> tuple[int, int, int, int]:
    """(height, width, bytes per sample, channels) of the array :func:`read_image` would return, from the file's
    header (no pixels decoded): what the tile plan of an image needs before it is read."""
    source = str(path)
    check_regular_file(Path(path))
    try:
        header = png16.png_header(Path(path))
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
            keyed = "transparency" in image.info  # a palette's or a tRNS colour key: read with alpha
            if mode == "P":
                mode = "RGBA" if keyed else "RGB"
            elif mode in ("L", "RGB") and keyed:
                mode += "A"
            mode = _TO_RGB.get(mode, mode)
            orientation = int(image.getexif().get(_ORIENTATION_TAG, 1))
    except (*_UNREADABLE, Image.DecompressionBombError) as exc:
        raise OftsrError(f"{source}: not a readable image ({exc})") from None
    channels, itemsize = {"L": (1, 1), "LA": (2, 1), "RGB": (3, 1), "RGBA": (4, 1)}.get(mode, (1, 2))
    if header is not None and header[0] == 16:  # 16-bit PNG: Pillow's mode may say 8 bits
        channels, itemsize = _PNG_CHANNELS.get(header[1], channels) + (header[1] in (0, 2) and keyed), 2
    if orientation in (5, 6, 7, 8):
        height, width = width, height
    return height, width, itemsize, channels


def resize_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """Upscale an (H, W) alpha plane by ``scale`` with Pillow's bicubic filter, in its own dtype."""
    height, width = alpha.shape
    size = (width * scale, height * scale)
    if alpha.min() == alpha.max():  # fully opaque (or uniform) alpha: nothing to interpolate
        return np.full((size[1], size[0]), alpha.flat[0], dtype=alpha.dtype)
    if alpha.dtype == np.uint8:
        return np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BICUBIC))
    big = np.asarray(Image.fromarray(alpha.astype(np.float32)).resize(size, Image.Resampling.BICUBIC))
    if alpha.dtype == np.uint16:
        return np.rint(np.clip(big, 0.0, 65535.0)).astype(np.uint16)
    return np.clip(big, 0.0, 1.0).astype(np.float32)


def read_note(path: str | os.PathLike) -> str | None:
    """The note :func:`write_image` stored in ``path``, or None (no note, not an image, unreadable): header only."""
    try:
        with Image.open(path) as image:
            value = image.getexif().get(_DESCRIPTION_TAG)
    except (*_UNREADABLE, Image.DecompressionBombError):
        return None
    return value if isinstance(value, str) else None
