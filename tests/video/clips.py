"""Synthetic test clips made with PyAV: a small moving picture with a sine-tone audio track (kept tiny: 64×48)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_clip(
    path: Path,
    *,
    frames: int = 12,
    rate: int = 12,
    size: tuple[int, int] = (64, 48),
    audio: str | None = "aac",
    rotation: int = 0,
    static: bool = False,
    codec: str = "libx264",
) -> Path:
    """Write a clip: a gradient with a square that moves (unless ``static``), ``audio`` one second of 440 Hz per
    second of video (None: no audio stream), ``rotation`` a display-matrix tag. Lossless x264 (crf 0) so a static
    clip decodes to identical frames."""
    import av

    width, height = size
    fmt = {".mkv": "matroska", ".webm": "webm"}.get(path.suffix, "mp4")
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(codec, rate=rate, options={"crf": "0"} if codec == "libx264" else {})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream(audio, rate=16000)
            sound.layout = "mono"
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1).astype(np.uint8)
        for i in range(frames):
            img = base.copy()
            k = 0 if static else i * 2
            img[10:20, 5 + k : 15 + k] = (255, 255, 0)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            rate_hz = 16000
            count = rate_hz * frames // rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(count) / rate_hz)).astype(np.float32)[None]
            fmt_name = "fltp" if audio == "aac" else "flt"
            for start in range(0, count, 960):
                chunk = av.AudioFrame.from_ndarray(tone[:, start : start + 960], format=fmt_name, layout="mono")
                chunk.sample_rate, chunk.pts = rate_hz, start
                for packet in sound.encode(chunk):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def audio_packets(path: Path) -> list[tuple[bytes, float]]:
    """Every audio packet's bytes and presentation time in seconds, in file order."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [
            (bytes(p), float(p.pts * p.time_base)) for p in container.demux(stream) if p.dts is not None
        ]


def video_frames(path: Path) -> tuple[list[np.ndarray], list[float], int, float]:
    """Decoded RGB frames, their times in seconds, the first frame's rotation and the container duration (s)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times, rotation = [], [], 0
        for frame in container.decode(stream):
            if not frames:
                rotation = int(frame.rotation or 0)
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
        return frames, times, rotation, container.duration / 1e6
