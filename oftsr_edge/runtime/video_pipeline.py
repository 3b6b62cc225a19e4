"""Decode → upscale → encode a video in three overlapping stages with bounded memory.

A reader thread demuxes and decodes (frames as RGB arrays, audio packets as they are), the calling thread upscales
(the model's backend releases the GIL), a writer thread converts, encodes and muxes. The stages talk through queues
of ``depth`` items, and HR frames live in a fixed pool of ``depth + 2`` buffers that the writer hands back once
FFmpeg has copied a frame, so memory stays flat however long the video is — never the whole video in RAM.

Audio packets travel the same queues as the frames, in the input's order, so the output interleaves as the input
did and the packets are muxed untouched. Any stage's error (or Ctrl-C) stops the other two and is raised once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.frames import FrameUpscaler
from oftsr_edge.runtime.io.video_io import VideoInfo

_END = object()
_POLL = 0.1  # seconds a blocked stage waits before it looks at the stop flag again


@dataclass
class PipelineStats:
    """What one run did; the busy times show how well the stages overlapped (their sum exceeds ``seconds``)."""

    frames: int = 0
    audio_packets: int = 0
    seconds: float = 0.0
    buffers: int = 0  # HR frame buffers allocated (at most depth + 2, whatever the length of the video)
    damaged_packets: int = 0  # video packets the decoder refused (damaged or cut data): skipped, counted
    busy: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "upscale": 0.0, "encode": 0.0})


class _Stopped(Exception):
    """Another stage failed or the run was interrupted: this stage just ends."""


class VideoPipeline:
    """One run from an open input container to an open output container (both owned by the caller).

    ``video_out`` is the output video stream (encoder configured, header written); ``audio_map`` maps an input audio
    stream's index to its output stream. ``progress(frames_done)`` is called from the calling thread.
    """

    def __init__(
        self,
        frames: FrameUpscaler,
        source: Any,
        target: Any,
        video_out: Any,
        audio_map: dict[int, Any],
        info: VideoInfo,
        progress: Callable[[int], None] | None = None,
        depth: int = 4,
    ) -> None:
        self.frames, self.source, self.target = frames, source, target
        self.video_in = source.streams.video[0]
        self.video_out, self.audio_map, self.info = video_out, audio_map, info
        self.progress = progress
        self.stats = PipelineStats()
        self._decoded: queue.Queue = queue.Queue(depth)
        self._upscaled: queue.Queue = queue.Queue(depth)
        self._pool: queue.Queue = queue.Queue()
        self._pool_size = depth + 2
        self._made = 0
        self._stop = threading.Event()
        self._errors: list[BaseException] = []

    def run(self) -> PipelineStats:
        start = time.perf_counter()
        threads = [
            threading.Thread(target=self._guard, args=(self._read,), name="oftsr-video-decode", daemon=True),
            threading.Thread(target=self._guard, args=(self._write,), name="oftsr-video-encode", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            self._upscale_all()
        except BaseException as exc:  # KeyboardInterrupt included: the other stages must stop before we leave
            if not isinstance(exc, _Stopped):
                self._errors.insert(0, exc)
            self._stop.set()
        finally:
            for thread in threads:
                thread.join()
        self.stats.seconds = time.perf_counter() - start
        self.stats.buffers = self._made
        if self._errors:
            raise self._errors[0]
        return self.stats

    # --- plumbing -------------------------------------------------------------------------------------------------
    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except _Stopped:
            pass
        except BaseException as exc:
            self._errors.append(exc)
            self._stop.set()

    def _put(self, q: queue.Queue, item: object) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue) -> Any:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue

    def _buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        """A free HR buffer: a new one until the pool is full, then one the writer has handed back."""
        if self._made < self._pool_size:
            self._made += 1
            return np.empty(shape, dtype=np.uint8)
        return self._get(self._pool)

    # --- the three stages -----------------------------------------------------------------------------------------
    def _read(self) -> None:
        import av

        video, busy = self.video_in, self.stats.busy
        video.thread_type = "AUTO"
        streams = [video, *(s for s in self.source.streams.audio if s.index in self.audio_map)]
        index = 0
        tick = time.perf_counter()
        for packet in self.source.demux(streams):
            if packet.stream.index != video.index:
                if packet.dts is not None:  # the demuxer's final empty packet carries nothing to copy
                    busy["decode"] += time.perf_counter() - tick
                    self._put(self._decoded, ("audio", packet))
                    tick = time.perf_counter()
                continue
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:  # a damaged or cut-off packet: the frames after it may still decode
                self.stats.damaged_packets += 1
                continue
            for frame in decoded:
                pts = frame.pts if frame.pts is not None else self._pts_from_index(index)
                pixels = frame.to_ndarray(format="rgb24")
                busy["decode"] += time.perf_counter() - tick
                self._put(self._decoded, ("video", pixels, pts))
                tick = time.perf_counter()
                index += 1
        self._put(self._decoded, _END)

    def _pts_from_index(self, index: int) -> int:
        rate = self.info.rate or Fraction(25)
        return round(Fraction(index) / rate / self.info.time_base)

    def _upscale_all(self) -> None:
        expected = (self.info.height, self.info.width, 3)
        while True:
            item = self._get(self._decoded)
            if item is _END:
                self._put(self._upscaled, _END)
                return
            if item[0] == "audio":
                self._put(self._upscaled, item)
                continue
            _, pixels, pts = item
            if pixels.shape != expected:
                raise OftsrError(
                    f"the video's frame size changed mid-stream ({expected[1]}x{expected[0]} -> "
                    f"{pixels.shape[1]}x{pixels.shape[0]}); oftsr-edge keeps one output size"
                )
            buf = self._buffer(self.frames.hr_shape(pixels))
            tick = time.perf_counter()
            hr = self.frames.upscale(pixels, out=buf)
            self.stats.busy["upscale"] += time.perf_counter() - tick
            self._put(self._upscaled, ("video", hr, pts))
            self.stats.frames += 1
            if self.progress is not None:
                self.progress(self.stats.frames)

    def _write(self) -> None:
        import av

        out, video = self.target, self.video_out
        time_base = self.info.time_base
        while True:
            item = self._get(self._upscaled)
            tick = time.perf_counter()
            if item is _END:
                for packet in video.encode():
                    out.mux(packet)
                self.stats.busy["encode"] += time.perf_counter() - tick
                return
            if item[0] == "audio":
                packet = item[1]
                packet.stream = self.audio_map[packet.stream.index]
                out.mux(packet)
                self.stats.audio_packets += 1
            else:
                _, hr, pts = item
                frame = av.VideoFrame.from_ndarray(hr, format="rgb24")  # copies: the buffer is free again
                self._pool.put(hr)
                frame.pts, frame.time_base = pts, time_base
                for packet in video.encode(frame):
                    out.mux(packet)
            self.stats.busy["encode"] += time.perf_counter() - tick
