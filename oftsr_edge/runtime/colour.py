"""Colour handling of image files: embedded ICC profiles converted to sRGB on reading, outputs tagged sRGB.

Why: the network was trained on sRGB photos and every viewer shows an untagged file as sRGB. A photo in Adobe RGB
or Display P3 whose profile were dropped without converting its pixels would come out with shifted, dull colours.
So a Pillow-read image with a profile other than sRGB is converted to sRGB (LittleCMS through Pillow's ImageCms,
relative colorimetric intent) before the network sees it, and every output is tagged sRGB: an ``sRGB`` chunk in PNG,
the sRGB ICC profile in JPEG, WebP and TIFF (BMP has no place for it). The profile of the input is not carried over:
the output's pixels are sRGB, and a tag must say what the pixels are.

16-bit images: Pillow's ImageCms transforms 8-bit data only, so a 16-bit image with a non-sRGB profile keeps its
values and gets a one-line warning saying its colours are not converted (converting through 8 bits would throw
away the precision the file was kept 16-bit for).
"""

from __future__ import annotations

import functools
import io
import warnings

from PIL import Image, ImageCms

#: rendering intent of the conversion: relative colorimetric (what viewers use for matrix profiles)
INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
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
