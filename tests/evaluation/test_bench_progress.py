"""bench shows progress per configuration (a bar whose total is exactly the calls it makes, so its estimate is
right) and says how to add the trained peers when --peers auto finds none."""

from __future__ import annotations

from pathlib import Path

import pytest

from oftsr_edge.evaluation import bench
from tests.helpers.cli import run_main


class _Bar:
    """Stands in for tqdm: records the total, the updates and the labels."""

    made: list[_Bar] = []

    def __init__(self, total: int, desc: str, **_: object) -> None:
        self.total, self.desc, self.n, self.postfix = total, desc, 0, []
        _Bar.made.append(self)

    def update(self, n: int) -> None:
        self.n += n

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix.append(text)

    def close(self) -> None:
        pass


def test_the_bar_counts_every_call_of_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    import tqdm

    monkeypatch.setattr(tqdm, "tqdm", _Bar)
    calls = []

    def base(name: str) -> dict:
        return dict(model=name, role="peer", note="", backend="ort-cpu", precision="fp32", scale=4, tile=0,
                    overlap=0, batch=1, out_size="8x8", lr_size="2x2", load_s=0.0)

    entries = [
        bench._Entry(base(name), (lambda n=name: calls.append(n)) if tiled else None,
                     lambda n=name: calls.append(n), False)
        for name, tiled in (("ours", True), ("bicubic", False), ("peer", True))
    ]
    cfg = bench.BenchConfig(models=(), backends=("ort-cpu",), tiles=(0,), sizes=((8, 8),), runs=3, warmup=2)
    _Bar.made.clear()
    rows = bench._measure_together(entries, cfg, 1, 64, "ort-cpu tile 0 batch 1 8x8")
    assert len(rows) == 3
    (bar,) = _Bar.made
    assert bar.desc == "ort-cpu tile 0 batch 1 8x8"
    assert bar.n == len(calls) == bar.total == bench._calls(entries, cfg)
    assert set(bar.postfix) == {"ours", "bicubic", "peer"}


def test_peers_auto_without_the_trained_peers_says_how_to_add_them(
    tiny_onnx_fp32: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oftsr_edge.evaluation import ncnn_peers

    monkeypatch.setattr(ncnn_peers, "available", lambda: [])
    proc = run_main(capsys, "bench", "--model", str(tiny_onnx_fp32), "--backend", "ort-cpu", "--tile", "16",
                    "--image-size", "32x32", "--runs", "1", "--warmup-runs", "0", "--peers", "auto")
    assert proc.code == 0, proc.err
    assert "trained Real-ESRGAN peers are not installed" in proc.err and "pip install --no-deps ncnn" in proc.err
