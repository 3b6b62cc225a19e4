"""Video upscaling end to end: frames per second, memory over the clip, and what the output keeps.

Makes a synthetic clip (a gradient with a moving square, AAC audio; ``tests/video/clips.py``) of the given size and
length, upscales it with ``upscale_video`` on each backend and reports: frames per second and seconds per output MP
(decode + upscale + encode, overlapped), the busy time of each stage, the process RSS sampled after 10 %, 50 %, 90 %
and 100 % of the frames plus the peak (VmHWM), and the acceptance checks: audio packets byte-identical, frame count
and duration kept.

Usage: python benchmarks/video_fps.py --size 480x270 --seconds 10 --fps 24 --backend ort-cpu,openvino [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge.runtime.backends.options import parse_backend  # noqa: E402
from oftsr_edge.runtime.cli.video import VideoJob, upscale_video  # noqa: E402
from oftsr_edge.runtime.settings import Settings  # noqa: E402
from tests.video.clips import audio_packets, make_clip, video_frames  # noqa: E402


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(clip: Path, out: Path, backend: str, threads: int, tile: int | None, frames: int) -> dict:
    marks = {max(1, round(frames * f)): f"{int(f * 100)}%" for f in (0.1, 0.5, 0.9, 1.0)}
    samples: dict[str, float] = {}
    every: list[float] = []

    def sample(done: int) -> None:
        every.append(rss_mb())
        if done in marks:
            samples[marks[done]] = every[-1]

    options = parse_backend(backend, threads=threads or None)
    start_rss = rss_mb()
    result = upscale_video(VideoJob(clip, out, backend=options, settings=Settings(tile=tile), overwrite=True, quiet=True), sample)
    stats = result.stats
    peak = rss_mb("VmHWM")  # before the checks below, which decode whole clips into memory
    src_frames, src_times, _, src_duration = video_frames(clip)
    out_frames, out_times, _, out_duration = video_frames(out)
    width, height = out_frames[0].shape[1], out_frames[0].shape[0]
    hr_mp = stats.frames * width * height / 1e6
    return {
        "backend": backend, "threads": threads, "lr": f"{src_frames[0].shape[1]}x{src_frames[0].shape[0]}",
        "hr": f"{width}x{height}", "frames": stats.frames, "seconds": stats.seconds,
        "fps": stats.frames / stats.seconds, "s_per_out_mp": stats.seconds / hr_mp,
        "busy_s": stats.busy, "rss_start_mb": start_rss, "rss_mb": samples, "peak_rss_mb": peak,
        "rss_max_first_half_mb": max(every[: len(every) // 2]), "rss_max_second_half_mb": max(every[len(every) // 2 :]),
        "hr_buffers": stats.buffers, "audio_identical": audio_packets(clip) == audio_packets(out),
        "frames_kept": len(out_frames) == len(src_frames), "timestamps_kept": out_times == src_times,
        "duration_in_s": src_duration, "duration_out_s": out_duration, "summary": result.summary,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="480x270", help="LR WxH")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--backend", default="ort-cpu", help="comma-separated backend names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames = round(args.seconds * args.fps)
    rows = []
    with tempfile.TemporaryDirectory(prefix="oftsr-video-bench-") as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", frames=frames, rate=args.fps, size=(width, height))
        for backend in args.backend.split(","):
            row = run(clip, Path(tmp) / f"out_{backend}.mp4", backend, args.threads, args.tile, frames)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("| backend | LR → HR | frames | s | fps | s / output MP | busy decode/upscale/encode s | RSS MB at "
          "10/50/90/100 % | peak RSS MB | audio identical | frames, timestamps kept | duration in → out s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        busy = "/".join(f"{r['busy_s'][k]:.0f}" for k in ("decode", "upscale", "encode"))
        rss = "/".join(f"{v:.0f}" for v in r["rss_mb"].values())
        print(f"| {r['backend']} | {r['lr']} → {r['hr']} | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.2f} | "
              f"{r['s_per_out_mp']:.3f} | {busy} | {rss} | {r['peak_rss_mb']:.0f} | {r['audio_identical']} | "
              f"{r['frames_kept'] and r['timestamps_kept']} | {r['duration_in_s']:.2f} → {r['duration_out_s']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
