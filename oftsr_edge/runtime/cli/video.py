"""``oftsr-edge upscale in.mp4 -o out.mp4``: one video file in, one upscaled video file out, audio copied.

The output is written to a temporary file beside the target and renamed when the last packet is muxed, so an
interrupted or failed run leaves no partial video under the target's name. Like images, an existing output is
skipped only when the settings recorded in it (here also the encoder and its options) equal this run's.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.fileio import atomic_path, sha256_file, sweep_stale
from oftsr_edge.runtime import provenance
from oftsr_edge.runtime.backends.options import BackendOptions
from oftsr_edge.runtime.frames import FrameUpscaler
from oftsr_edge.runtime.io import video_io
from oftsr_edge.runtime.io.video_io import VideoInfo
from oftsr_edge.runtime.model_probe import check_scale_option
from oftsr_edge.runtime.settings import Settings
from oftsr_edge.runtime.video_pipeline import PipelineStats, VideoPipeline


@dataclass(frozen=True)
class VideoJob:
    """One video run as the command line asked for it (the names are the upscale command's options)."""

    source: Path
    target: Path
    model: Path | str | None = None
    backend: BackendOptions | str = "auto"
    settings: Settings = Settings()  # t, seed, solver steps and the tiling, as for images
    scale: int | None = None  # None = the model's; else it must be the model's
    codec: str | None = None  # None = libx264 (libvpx-vp9 for .webm)
    crf: int | None = None  # None = the encoder's default in video_io.CRF_ENCODERS
    overwrite: bool = False
    quiet: bool = False


def video_target(source: Path, output: Path) -> Path:
    """``-o`` names the output video, or a folder to put ``<input name>.mp4``-style files in."""
    if output.is_dir() or not output.suffix:
        return output / source.name if source.suffix.lower() in video_io.MUXERS else output / f"{source.stem}.mp4"
    return output


@dataclass(frozen=True)
class VideoResult:
    """What one run did: ``stats`` is None when the output was already current (nothing done). ``problem``: why
    the output is shorter than the input says it is (a truncated or damaged input), else None; the output holds
    every frame that could be decoded."""

    summary: str
    stats: PipelineStats | None
    problem: str | None = None


def upscale_video(job: VideoJob, progress: Callable[[int], None] | None = None) -> VideoResult:
    """Run ``job``; ``progress(frames_done)`` after each frame. Every problem is an :class:`OftsrError` (one line)."""
    from oftsr_edge.runtime.upscaler import Upscaler

    source, target = job.source, job.target
    muxer = video_io.muxer_for(target)
    codec, codec_options = video_io.resolve_codec(job.codec, job.crf, muxer)
    if target.exists() and target.resolve() == source.resolve():
        raise OftsrError(f"{target}: output would overwrite its input")
    info = video_io.probe(source)
    swept = len(sweep_stale(target.parent))  # the temporaries of a killed run (SIGKILL, power loss)
    with Upscaler(job.model, job.backend, job.settings) as up:
        check_scale_option(job.scale, up.spec)
        frames = FrameUpscaler(up)  # the settings' t and seed (a None seed: one random seed for the video)
        tiler = frames.tiler_for((info.height, info.width, 3))  # the whole stream's tiling, planned once
        record = provenance.make_record(
            sha256_file(source), up.model_sha256, frames.t, frames.seed, job.settings.seed is None,
            tiler.tile if isinstance(tiler.tile, int) else list(tiler.tile), tiler.overlap, up.backend_name,
            solver_steps=up.solver_steps,
        )  # fmt: skip
        record.update(codec=codec, codec_options=codec_options)
        if not job.overwrite and _is_current(target, record, info):
            return VideoResult(f"oftsr-edge: nothing to do; {target} was made from the same input with the same "
                               "settings; --overwrite rewrites it", None)  # fmt: skip
        stats = _write(frames, source, target, muxer, codec, codec_options, info, record, job.quiet, progress)
        name = up.backend_name
    lr_mp = stats.frames * info.width * info.height / 1e6
    hr_mp = lr_mp * up.spec.scale**2
    fps = stats.frames / stats.seconds if stats.seconds > 0 else 0.0
    audio = f", {len(info.audio_codecs)} audio stream(s) copied" if info.audio_codecs else ", no audio"
    stale = f"; {swept} stale temporary file(s) of an interrupted run removed" if swept else ""
    return VideoResult(
        f"oftsr-edge: upscaled {stats.frames} frame(s) {info.width}x{info.height} -> "
        f"{info.width * up.spec.scale}x{info.height * up.spec.scale} in {stats.seconds:.2f} s ({fps:.2f} fps, "
        f"{hr_mp / stats.seconds if stats.seconds > 0 else 0.0:.2f} MP/s) on {name}{audio} -> {target}{stale}",
        stats,
        _shortfall(source, target, info, stats.frames, stats.damaged_packets),
    )


def _short(expected: VideoInfo, frames: int) -> bool:
    """Fewer frames than the container declares (its frame count when it states one, else duration × rate),
    beyond what timestamps and edit lists can account for (1 %, at least 1 frame; 3 %, at least 2, for an
    estimate)."""
    if expected.frames:
        return frames < expected.frames - max(1, expected.frames // 100)
    estimate = expected.estimated_frames()
    return bool(estimate) and frames < estimate - max(2, estimate * 3 // 100)


def _shortfall(source: Path, target: Path, info: VideoInfo, frames: int, damaged: int) -> str | None:
    """One line when the input did not decode completely. A demanding user wants the frames there are (often
    all but the last seconds of a cut-off download) *and* to be told, in a way a script sees: the output is kept
    and the command exits non-zero, as a folder run with a failed image does; a rerun redoes such an output."""
    short = _short(info, frames)
    if not short and not damaged:
        return None
    declared = info.frames or info.estimated_frames()
    what = f"decoded {frames} of the {declared} frame(s) its container declares" if short else (
        f"decoded {frames} frame(s)")
    bad = f", {damaged} damaged packet(s) skipped" if damaged else ""
    return f"{source}: {what}{bad} (truncated or damaged input); {target} holds the {frames} decoded frame(s)"


def _is_current(target: Path, record: dict[str, Any], info: VideoInfo) -> bool:
    """The settings record matches and the output is complete (not the kept result of a damaged input)."""
    if record["random_seed"] or record["model_sha256"] is None or not target.is_file():
        return False
    if video_io.read_record(target) != record:
        return False
    try:
        made = video_io.probe(target)
    except OftsrError:
        return False
    return not _short(info, made.frames or made.estimated_frames())


def _write(
    frames: FrameUpscaler,
    source: Path,
    target: Path,
    muxer: str,
    codec: str,
    codec_options: dict[str, str],
    info: video_io.VideoInfo,
    record: dict[str, Any],
    quiet: bool,
    progress: Callable[[int], None] | None,
) -> PipelineStats:
    """Open input and a temporary output, run the pipeline, rename on success (removed on any failure)."""
    from tqdm import tqdm

    av = video_io.import_av()
    scale = frames.upscaler.spec.scale
    bar = tqdm(total=info.estimated_frames() or None, unit="frame", disable=True if quiet else None,
               file=sys.stderr, desc=source.name)  # fmt: skip

    def tick(done: int) -> None:
        bar.update(1)
        if progress is not None:
            progress(done)

    try:
        with _sigterm_as_interrupt(), atomic_path(target) as tmp, ExitStack() as stack:
            src = stack.enter_context(av.open(str(source), "r"))
            try:
                out = stack.enter_context(av.open(str(tmp), "w", format=muxer))
            except Exception as exc:
                raise OftsrError(f"{target}: cannot write ({video_io.gist(exc)})") from None
            video_out, audio_map = _streams(out, src, info, scale, codec, codec_options, target)
            out.metadata["comment"] = provenance.encode(record)
            try:
                out.start_encoding()
            except Exception as exc:
                audio = f" with {'/'.join(info.audio_codecs)} audio" if info.audio_codecs else ""
                raise OftsrError(f"{target}: {muxer} cannot hold {codec} video{audio} "
                                 f"({video_io.gist(exc)}); try .mkv or another --codec") from None  # fmt: skip
            stats = VideoPipeline(frames, src, out, video_out, audio_map, info, progress=tick).run()
    except OftsrError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # FFmpeg errors from a stage: one line naming the files
        raise OftsrError(f"{source} -> {target}: video processing failed ({video_io.gist(exc)})") from None
    finally:
        bar.close()
    return stats


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a video is written, SIGTERM (a killed job, ``timeout``) unwinds like Ctrl-C, so the temporary file is
    removed instead of left behind; only the main thread can install a handler, elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _streams(
    out: Any, src: Any, info: video_io.VideoInfo, scale: int, codec: str, options: dict[str, str], target: Path
) -> tuple[Any, dict[int, Any]]:
    """The output video stream (HR size, the input's time base and rotation) and one copied stream per audio."""
    kwargs = {"rate": info.rate} if info.rate else {}
    try:
        video = out.add_stream(codec, options=options, **kwargs)
    except Exception as exc:
        raise OftsrError(f"{target}: cannot add a {codec} stream ({video_io.gist(exc)})") from None
    video.width, video.height = info.width * scale, info.height * scale
    formats = [f.name for f in (video.codec_context.codec.video_formats or ())]
    video.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
    video.codec_context.time_base = info.time_base
    video.time_base = info.time_base
    if info.rotation:
        video.set_display_rotation(info.rotation)
    audio_map = {}
    for stream in src.streams.audio:
        try:
            audio_map[stream.index] = out.add_stream_from_template(stream)
        except Exception as exc:
            raise OftsrError(f"{target}: cannot copy the {stream.codec_context.name} audio into this container "
                             f"({video_io.gist(exc)}); try .mkv") from None  # fmt: skip
    return video, audio_map


#: upscale options that only mean something for images (an error with a video input)
IMAGE_ONLY = ("recursive", "suffix", "fmt", "png_compression", "quality")


def dispatch(inputs: tuple[Path, ...], job_for: Callable[[Path], VideoJob]) -> bool:
    """The upscale command's video branch, called with the command's click context current (it tells which options
    the command line gave): True when ``inputs`` is one video (``job_for(video)`` run, summary printed), False for
    images. --codec/--crf with images, image-only options with a video, or a video among other inputs are one-line
    errors."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = {name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    videos = [p for p in inputs if video_io.is_video_path(p)]
    if not videos:
        if given & {"codec", "crf"}:
            raise OptionError("--codec and --crf apply to video inputs only")
        return False
    if len(inputs) > 1:
        raise OftsrError(f"{videos[0]}: a video is upscaled on its own: one video per run, without other inputs")
    wrong = [f"--{name.replace('_', '-')}" if name != "fmt" else "--format" for name in IMAGE_ONLY if name in given]
    if wrong:
        raise OptionError(f"{', '.join(wrong)}: for images only, not for the video {videos[0]}")
    result = upscale_video(job_for(videos[0]))
    click.echo(result.summary)
    if result.problem:
        raise OftsrError(result.problem)
    return True
