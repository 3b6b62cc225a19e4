"""Timing statistics and memory probes."""

from __future__ import annotations

import numpy as np
import pytest

from oftsr_edge.evaluation.timing import PeakRss, TimingStats, environment, time_calls, time_interleaved


def test_percentiles_match_numpy() -> None:
    seconds = list(np.random.default_rng(0).uniform(0.01, 0.2, 37))
    stats = TimingStats.from_seconds(seconds)
    ms = np.array(seconds) * 1000
    for q, value in ((50, stats.p50_ms), (90, stats.p90_ms), (99, stats.p99_ms)):
        assert value == pytest.approx(np.percentile(ms, q))
    assert stats.mean_ms == pytest.approx(ms.mean()) and stats.std_ms == pytest.approx(ms.std(ddof=1))
    assert stats.cv == pytest.approx(ms.std(ddof=1) / ms.mean())
    half = stats.scaled(0.5)
    assert half.p90_ms == pytest.approx(stats.p90_ms / 2) and half.runs == stats.runs


def test_time_calls_warms_up_then_times() -> None:
    calls, syncs = [], []
    stats = time_calls(lambda: calls.append(1), runs=4, warmup=2, sync=lambda: syncs.append(1))
    assert len(calls) == 6 and len(syncs) == 6 and stats.runs == 4
    with pytest.raises(ValueError):
        time_calls(lambda: None, runs=0)


def test_peak_rss_sees_an_allocation() -> None:
    probe = PeakRss()
    block = np.ones(256 * 1024 * 1024 // 8)  # 256 MiB touched: more than the allocator can have kept free
    assert block.sum() > 0
    assert probe.peak_mib() > 0
    if probe.scope == "configuration":
        assert probe.peak_mib() >= probe.start_mib and probe.delta_mib() >= 100


def test_environment_names_versions() -> None:
    env = environment()
    for key in ("cpu", "cpu_count", "python", "numpy", "onnxruntime", "ort_providers"):
        assert key in env


def test_interleaved_timing_is_round_robin() -> None:
    order: list[str] = []
    stats = time_interleaved([lambda: order.append("a"), None, lambda: order.append("b")], runs=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert stats[1] is None and stats[0].runs == stats[2].runs == 3
