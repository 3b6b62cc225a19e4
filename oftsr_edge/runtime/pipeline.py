"""A folder run as three overlapped stages, so its throughput is set by the network, not by file I/O.

    reader thread ──(queue of 2)──► caller's thread: the network ──(queue of 1)──► writer thread
    sha256, rerun check, decode                                                   record, encode, atomic write

Why threads: decoding, hashing, deflate (zlib/ISA-L) and numpy release the GIL, and ONNX Runtime's threads leave
gaps between operators, so the writer and the reader fill CPU time the network does not use. The queues are
bounded: at most two decoded inputs wait and one finished image waits to be written, whatever the folder's size.

Errors: a bad image (unreadable input, a failed write) is reported through ``on_error`` and the run goes on; an
:class:`~oftsr_edge.errors.OptionError` (wrong for every image) stops the run and is raised, as is any
error when the run has a single image. Outputs are written atomically (:mod:`oftsr_edge.fileio`); temporaries a
killed run left in the output folders are swept first. Interrupted (Ctrl-C, SIGTERM), the run stops after the
image being written, and the caller's ``result`` holds what was done, for its summary.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oftsr_edge.errors import NotEnoughMemoryError, OftsrError, OptionError
from oftsr_edge.fileio import sha256_file, sweep_stale
from oftsr_edge.runtime import provenance
from oftsr_edge.runtime.device.threads import is_thread_start_failure, thread_start_error
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.records import file_record
from oftsr_edge.runtime.settings import Settings
from oftsr_edge.runtime.tiling.tiler import ProgressFn
from oftsr_edge.runtime.upscaler import Upscaler

_END = object()  # end of a stage's stream


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass
class FolderResult:
    """What a folder run did: the counts of the CLI's summary line."""

    done: int = 0
    skipped: int = 0  # existing output made with the same settings
    rewritten: int = 0  # existing output made otherwise (or with no record)
    failures: list[str] = field(default_factory=list)
    lr_mp: float = 0.0
    hr_mp: float = 0.0
    swept: int = 0  # stale temporaries of a killed run, removed at the start


@dataclass(frozen=True)
class WriteOptions:
    png_compression: int = image_io.PNG_COMPRESSION
    quality: int | None = None


def run_folder(
    upscaler: Upscaler,
    jobs: list[Job],
    settings: Settings | None = None,
    *,
    overwrite: bool = False,
    write: WriteOptions = WriteOptions(),
    on_error: Callable[[Job, OftsrError], None] | None = None,
    progress: Callable[[Job, int], ProgressFn] | None = None,
    result: FolderResult | None = None,
) -> FolderResult:
    """Upscale every job with ``upscaler``, decode, network and encode overlapped. ``settings``: the upscaler's
    own by default; others (another t or seed) are resolved by it once, before any work. ``progress(job, index)``
    returns the per-tile callback of that image. ``result``: filled as the run goes (so an interrupted caller still
    has the counts); a new one by default."""
    result = FolderResult() if result is None else result
    for folder in dict.fromkeys(job.target.parent for job in jobs):
        result.swept += len(sweep_stale(folder))
    run = upscaler.settings if settings is None else upscaler.resolve(settings)
    t_used, random_seed = run.t, run.seed is None
    upscaler.model_sha256  # noqa: B018 - hash the model once, before threads ask for it
    inputs: queue.Queue = queue.Queue(maxsize=2)
    outputs: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    lock = threading.Lock()

    def fail(job: Job, exc: OftsrError) -> None:
        if len(jobs) == 1:
            raise exc
        kept = f" ({job.target} is left as it was)" if job.target.exists() else ""
        with lock:
            result.failures.append(f"{exc}{kept}")
        if on_error is not None:
            on_error(job, OftsrError(f"{exc}{kept}"))

    def read() -> None:
        for job in jobs:
            if stop.is_set():
                break
            try:
                item = prepare(job)
            except OSError as exc:
                item = (job, None, None, OftsrError(f"{job.source}: cannot read ({exc.strerror or exc})"))
            except OftsrError as exc:
                item = (job, None, None, exc)
            except MemoryError:
                item = (job, None, None, NotEnoughMemoryError(f"{job.source}: not enough memory to read it"))
            if item is None:
                continue
            if not _put(inputs, item, lambda: not stop.is_set()):
                return
        _put(inputs, _END, lambda: not stop.is_set())

    def prepare(job: Job) -> tuple | None:
        """Everything before the network, cheapest first: limits from the header, the rerun rule, the decode;
        None when the output is current (skipped)."""
        sha = sha256_file(job.source)
        try:
            height, width, itemsize, channels = image_io.image_layout(job.source)
        except OftsrError:
            image_io.read_image(job.source)  # the reader's own words for a broken file (truncated, corrupt, ...)
            raise
        choice = upscaler.tiling.check_fits(job.source, job.target, height, width, itemsize, channels)
        if not overwrite and (job.target.exists() or job.target.is_symlink()):
            found = provenance.read_record(job.target)
            if found is None:
                raise OftsrError(f"{job.target}: exists and holds no oftsr-edge settings record, so it was not "
                                 "written by this tool (or is not readable); not replaced: --overwrite replaces "
                                 "it")  # fmt: skip
            wanted = file_record(upscaler, sha, t_used, 0 if random_seed else run.seed, random_seed, choice,
                                 provenance.encoding(job.target, write.png_compression, write.quality,
                                                     8 * itemsize))  # fmt: skip
            scale = upscaler.spec.scale
            if provenance.matches(found, wanted) and provenance.decodes_completely(
                job.target, (height * scale, width * scale)
            ):
                with lock:
                    result.skipped += 1
                return None
            with lock:
                result.rewritten += 1
        return (job, image_io.read_image(job.source), sha, None)

    def write_all() -> None:
        while (item := outputs.get()) is not _END:
            job, image, sha, seed_of_image, choice = item
            try:
                encoding = provenance.encoding(job.target, write.png_compression, write.quality,
                                               8 * image.dtype.itemsize)  # fmt: skip
                record = file_record(upscaler, sha, t_used, seed_of_image, random_seed, choice, encoding)
                image_io.write_image(job.target, image, note=provenance.encode(record),
                                     png_compression=write.png_compression, quality=write.quality)  # fmt: skip
            except OftsrError as exc:
                _report(fail, job, exc, outputs_failed)
                continue
            except MemoryError:
                _report(fail, job, NotEnoughMemoryError(f"{job.target}: not enough memory to encode it"),
                        outputs_failed)  # fmt: skip
                continue
            with lock:
                result.done += 1
                result.lr_mp += choice.image_pixels / 1e6
                result.hr_mp += choice.image_pixels * upscaler.spec.scale**2 / 1e6

    outputs_failed: list[BaseException] = []
    def reader_failed(exc: BaseException) -> None:
        for item in ((None, None, None, exc), _END):
            _put(inputs, item, lambda: not stop.is_set())

    reader = threading.Thread(target=_guarded(read, reader_failed), name="oftsr-read", daemon=True)
    writer = threading.Thread(target=_guarded(write_all, outputs_failed.append), name="oftsr-write", daemon=True)
    try:
        reader.start()
        writer.start()
    except RuntimeError as exc:  # the system would not give us a thread: one line, and the reader told to stop
        stop.set()
        if is_thread_start_failure(exc):
            raise thread_start_error(exc) from None
        raise
    try:
        index = 0
        while (item := inputs.get()) is not _END:
            job, pixels, sha, error = item
            if isinstance(error, BaseException) and not isinstance(error, OftsrError):
                raise error  # a bug in the reader: surface it
            if isinstance(error, OptionError):
                raise error  # wrong for every image (e.g. an overlap no tiling can afford): stop the run
            if error is not None:
                fail(job, error)
                continue
            index += 1
            callback = progress(job, index) if progress is not None else None
            seed_of_image = run.seed_for_image()  # a random seed: one per image
            try:
                image, choice = upscaler._upscale_planned(pixels, t_used, seed_of_image, callback)
            except OptionError:
                raise
            except OftsrError as exc:
                fail(job, exc)
                continue
            _put(outputs, (job, image, sha, seed_of_image, choice), writer.is_alive)
            if outputs_failed:
                raise outputs_failed[0]
    finally:
        stop.set()
        _drain(inputs)
        _put(outputs, _END, writer.is_alive)
        writer.join()
        reader.join()
    if outputs_failed:
        raise outputs_failed[0]
    return result


def _report(fail: Callable[[Job, OftsrError], None], job: Job, exc: OftsrError, errors: list) -> None:
    """A failed write: one line (or, for a single image, the error itself, raised from the caller's thread)."""
    try:
        fail(job, exc)
    except OftsrError as raised:
        errors.append(raised)


def _guarded(fn: Callable[[], None], failed: Callable[[BaseException], None]) -> Callable[[], None]:
    """Run ``fn`` so that an unexpected exception reaches the caller's thread instead of dying silently."""

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failed(exc)

    return run


def _put(target: queue.Queue, item: object, alive: Callable[[], bool]) -> bool:
    """Put ``item`` unless the other side is gone (``alive()`` false): a stage never waits forever on a dead one."""
    while alive():
        try:
            target.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _drain(inputs: queue.Queue) -> None:
    """Empty the input queue so a reader blocked on a full queue can see the stop flag and finish."""
    while True:
        try:
            inputs.get_nowait()
        except queue.Empty:
            return
