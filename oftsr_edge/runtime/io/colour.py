"""Colour handling of image files: embedded ICC profiles converted to sRGB on reading, outputs tagged sRGB.

Why: the network was trained on sRGB photos and every viewer shows an untagged file as sRGB. A photo in Adobe RGB
or Display P3 whose profile were dropped without converting its pixels would come out with shifted, dull colours.
So a Pillow-read image with a profile other than sRGB is converted to sRGB (LittleCMS through Pillow's ImageCms,
relative colorimetric intent) before the network sees it, and every output is tagged sRGB: an ``sRGB`` chunk in PNG,
the sRGB ICC profile in JPEG, WebP and TIFF (BMP has no place for it). The profile of the input is not carried over:
the output's pixels are sRGB, and a tag must say what the pixels are.

16-bit images: Pillow's ImageCms transforms 8-bit data only, so a 16-bit image with a non-sRGB profile keeps its
values and gets a one-line warning saying its colours are not converted (converting through 8 bits would throw
away the precision the file was kept 16-bit for). 32-bit integer images get their white level by a stated rule
(:func:`int32_pixels`).
"""

from __future__ import annotations

import functools
import io
import warnings

import numpy as np
from PIL import Image, ImageCms

from oftsr_edge.errors import OftsrError

#: rendering intent of the conversion: relative colorimetric (what viewers use for matrix profiles)
INTENT = getattr(ImageCms, "Intent", None) and ImageCms.Intent.RELATIVE_COLORIMETRIC or 1  # 1: older Pillow
#: the modes ImageCms converts, and the sRGB mode each becomes
_CONVERTIBLE = {"RGB": "RGB", "RGBA": "RGB", "L": "RGB", "LA": "RGB", "CMYK": "RGB"}


@functools.lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """The sRGB ICC profile that JPEG, WebP and TIFF outputs carry."""
    return srgb_profile().tobytes()


def _profile(data: bytes, source: str) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (OSError, TypeError, ValueError, ImageCms.PyCMSError):
        warnings.warn(f"{source}: its embedded ICC profile is unreadable; colours are taken as sRGB",
                      RuntimeWarning, stacklevel=4)  # fmt: skip
        return None


def warn_unconverted(data: bytes, source: str) -> None:
    """The one line for a 16-bit image whose (non-sRGB) profile is not applied."""
    profile = _profile(data, source)
    if profile is not None and not is_srgb(profile):
        warnings.warn(f"{source}: a 16-bit image with a non-sRGB ICC profile ({_describe(profile)}): its colours are "
                      "not converted to sRGB (only 8-bit images are)", RuntimeWarning, stacklevel=4)  # fmt: skip


def _describe(profile: ImageCms.ImageCmsProfile) -> str:
    try:
        return ImageCms.getProfileDescription(profile).strip() or "unnamed"
    except ImageCms.PyCMSError:
        return "unnamed"


def is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """An sRGB profile by its description (the usual "sRGB IEC61966-2.1", "sRGB built-in"): nothing to convert."""
    try:
        description = ImageCms.getProfileDescription(profile)
    except ImageCms.PyCMSError:
        return False
    return "srgb" in description.lower()


def to_srgb(image: Image.Image, source: str) -> Image.Image:
    """``image`` with its pixels in sRGB: converted from its embedded ICC profile when that is not sRGB.

    Gray stays gray (its luminance is taken from the converted RGB, which is neutral for neutral input); alpha is
    kept as it is."""
    data = image.info.get("icc_profile")
    if not data:
        return image
    if image.mode not in _CONVERTIBLE:
        if image.mode.startswith("I;16") or image.mode == "I":
            warn_unconverted(data, source)
        return image
    profile = _profile(data, source)
    if profile is None or is_srgb(profile):
        return image
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert({"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode))
    try:
        converted = ImageCms.profileToProfile(base, profile, srgb_profile(), renderingIntent=INTENT,
                                              outputMode=_CONVERTIBLE[image.mode])  # fmt: skip
    except ImageCms.PyCMSError as exc:
        warnings.warn(f"{source}: its ICC profile cannot be applied ({exc}); colours are taken as sRGB",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return image
    if image.mode in ("L", "LA"):
        converted = converted.getchannel("G")  # neutral in, neutral out: the three channels agree
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def declared_white(image: Image.Image) -> int | None:
    """The white level a TIFF states (SMaxSampleValue, else MaxSampleValue), when it states one."""
    tags = getattr(image, "tag_v2", None)
    for tag in (341, 281):
        value = tags.get(tag) if tags is not None else None
        if isinstance(value, tuple):
            value = max(value) if value else None
        if isinstance(value, (int, float)) and value > 0:
            return int(value)
    return None


def int32_pixels(values: np.ndarray, white: int | None, source: str) -> np.ndarray:
    """A 32-bit integer gray image (Pillow mode ``I``: some TIFFs, PGMs) to 8 or 16 bits, by this rule: the white
    level the file states (a TIFF's SMaxSampleValue/MaxSampleValue) when it states one; else by the values
    themselves: all within 0–255 → 8-bit values (white 255), within 0–65535 → 16-bit values (white 65535). So a
    32-bit TIFF holding 0–255 keeps its brightness instead of becoming 0–255 of 65535 (near black). Negative
    values or values beyond 16 bits without a stated white level are refused."""
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if low < 0:
        raise OftsrError(f"{source}: 32-bit integer image with negative values ({low}); not an image oftsr-edge reads")
    if white is not None:
        if high > white:
            raise OftsrError(f"{source}: values up to {high} exceed the white level {white} the file states")
        if white in (255, 65535):
            return values.astype(np.uint8 if white == 255 else np.uint16)
        return np.rint(values.astype(np.float64) * (65535.0 / white)).astype(np.uint16)
    if high <= 255:
        return values.astype(np.uint8)
    if high > 65535:
        raise OftsrError(f"{source}: 32-bit integer values up to {high}: more than 16 bits per sample, and the file "
                         "states no white level")
    return values.astype(np.uint16)
