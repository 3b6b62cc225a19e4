"""Video containers through PyAV (the ``[video]`` extra; its wheels ship FFmpeg): probe an input, open the output.

What the output keeps from the input: the frame timestamps (the encoder works in the input's time base, so the frame
rate, variable or not, and the duration carry over), the display rotation (a stream tag, the pixels are not turned)
and every audio stream, whose packets are copied untouched (no re-encode). Subtitle and data streams are dropped.
The settings that made the output are stored as the container's ``comment`` tag, so a rerun can tell a current
output from a stale one (:mod:`oftsr_edge.runtime.provenance`).

``av`` is imported only inside functions: a runtime-only install never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime import provenance

#: output file suffix -> FFmpeg muxer (the temporary file's name has no usable suffix, so the muxer is named)
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
#: input suffixes read as video (anything FFmpeg demuxes would do; these are the ones a user means as video)
VIDEO_SUFFIXES = (*MUXERS, ".avi", ".ts", ".m2ts", ".mts", ".flv", ".wmv", ".mpg", ".mpeg", ".3gp")
#: encoder -> (default CRF, extra encoder options); an encoder not listed here takes no --crf
CRF_ENCODERS: dict[str, tuple[int, dict[str, str]]] = {
    "libx264": (18, {"preset": "medium"}),
    "libx265": (20, {"preset": "medium", "x265-params": "log-level=error"}),
    "libvpx-vp9": (28, {"b:v": "0", "row-mt": "1"}),
    "libsvtav1": (30, {}),
}
#: container -> encoder used when --codec is not given
DEFAULT_CODEC = {"webm": "libvpx-vp9"}
_ALIASES = {"h264": "libx264", "x264": "libx264", "h265": "libx265", "hevc": "libx265", "x265": "libx265",
            "vp9": "libvpx-vp9", "av1": "libsvtav1"}  # fmt: skip


def import_av() -> Any:
    try:
        import av
    except ImportError:
        raise MissingExtraError(
            "video files need PyAV, which is not installed: pip install 'oftsr-edge[video]'"
        ) from None
    return av


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def muxer_for(target: Path) -> str:
    muxer = MUXERS.get(target.suffix.lower())
    if muxer is None:
        raise OftsrError(f"{target}: cannot write video as {target.suffix or 'no extension'!r} "
                         f"(use {', '.join(MUXERS)})")  # fmt: skip
    return muxer


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about an input before the first frame is decoded."""

    width: int
    height: int
    rate: Fraction | None  # average frame rate (None when the container does not say)
    time_base: Fraction
    frames: int  # frame count as the container states it; 0 = unknown
    duration: float | None  # seconds
    rotation: int  # display rotation in degrees, from the first frame's display matrix
    audio_codecs: tuple[str, ...]

    def estimated_frames(self) -> int:
        if self.frames:
            return self.frames
        if self.rate and self.duration:
            return round(float(self.rate) * self.duration)
        return 0


def _open_input(av: Any, source: Path) -> Any:
    if not source.is_file():
        raise OftsrError(f"{source}: no such video file")
    try:
        return av.open(str(source), "r")
    except Exception as exc:  # av.error.* and OSError: one line naming the file
        raise OftsrError(f"{source}: not a readable video ({gist(exc)})") from None


def probe(source: Path) -> VideoInfo:
    """Read the stream layout and the first frame's rotation; a file without a video stream is one line."""
    av = import_av()
    with _open_input(av, source) as container:
        if not container.streams.video:
            raise OftsrError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        rotation = 0
        try:
            first = next(container.decode(stream), None)
        except Exception as exc:
            raise OftsrError(f"{source}: cannot decode its video ({gist(exc)})") from None
        if first is None:
            raise OftsrError(f"{source}: its video stream has no frames")
        rotation = int(round(first.rotation or 0))
        seconds = None
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration:
            seconds = container.duration / 1e6
        return VideoInfo(
            width=first.width,
            height=first.height,
            rate=stream.average_rate or stream.guessed_rate,
            time_base=stream.time_base or Fraction(1, 90000),
            frames=int(stream.frames or 0),
            duration=seconds,
            rotation=rotation,
            audio_codecs=tuple(a.codec_context.name for a in container.streams.audio),
        )


def resolve_codec(codec: str | None, crf: int | None, muxer: str) -> tuple[str, dict[str, str]]:
    """The encoder name and its options for ``--codec`` / ``--crf`` (None = the defaults for the container)."""
    av = import_av()
    name = _ALIASES.get((codec or "").lower(), (codec or "").lower()) or DEFAULT_CODEC.get(muxer, "libx264")
    try:
        found = av.Codec(name, "w")
    except Exception:
        raise OftsrError(f"--codec {codec}: no such video encoder in this FFmpeg build "
                         f"(e.g. {', '.join(CRF_ENCODERS)})") from None  # fmt: skip
    if found.type != "video":
        raise OftsrError(f"--codec {codec}: {found.name} is not a video encoder")
    if found.name not in CRF_ENCODERS:
        if crf is not None:
            raise OftsrError(f"--crf: encoder {found.name} takes no CRF (these do: {', '.join(CRF_ENCODERS)})")
        return found.name, {}
    default, extra = CRF_ENCODERS[found.name]
    value = default if crf is None else crf
    if not 0 <= value <= 63:
        raise OftsrError(f"--crf must be in 0-63 (lower = better quality, larger file), got {value}")
    return found.name, {"crf": str(value), **extra}


def read_record(path: Path) -> dict[str, Any] | None:
    """The settings record stored in a video made by oftsr-edge, or None (not ours, unreadable, no tag)."""
    try:
        av = import_av()
        with av.open(str(path), "r") as container:
            note = container.metadata.get("comment") or container.metadata.get("COMMENT")
    except Exception:
        return None
    return provenance.decode(note)


def gist(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
