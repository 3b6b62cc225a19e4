"""The Ray Data adapter on a local Ray cluster (2 CPUs, two workers): outputs equal the single-process CLI's files
byte for byte, from path rows and from ``ray.data.read_images`` rows, and a rerun skips current outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oftsr_edge.runtime.backends.options import OrtCpu

ray = pytest.importorskip("ray", reason="could not import 'ray' (in the [dev] extra: pip install -e '.[dev]')")
# Ray Data reads its own deprecated settings when a context is copied; nothing here uses them
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def cluster() -> None:
    """A local Ray cluster on this machine's 2 CPUs, shut down after the module."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five LR test photos, two of them in a sub-folder (outputs must mirror it)."""
    root = tmp_path_factory.mktemp("ray_in") / "lr"
    (root / "sub").mkdir(parents=True)
    for k, path in enumerate(sorted((photos / "LR_bicubic" / "X4").glob("*.png"))):
        shutil.copy(path, root / ("sub" if k < 2 else ".") / path.name)
    return root


@pytest.fixture(scope="module")
def cli_outputs(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """``oftsr-edge upscale -r`` in one process, with the same settings the Ray runs use."""
    from oftsr_edge.cli import main

    out = tmp_path_factory.mktemp("cli") / "x4"
    try:
        from oftsr_edge.runtime.models import default_name

        # the adapter runs one model for every row (the default), so the CLI is given that model, not auto's choice
        main(["upscale", str(folder), "-o", str(out), "-r", "--tile", "32", "--threads", "1", "--t", "0.6", "-q",
              "--model", default_name()])
    except SystemExit as exc:  # main exits only on failure
        pytest.fail(f"the CLI failed with exit status {exc.code}")
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_ray_workers_write_the_clis_files(cluster: None, folder: Path, cli_outputs: dict, tmp_path: Path) -> None:
    from oftsr_edge.scale.ray_adapter import upscale_folder

    out = tmp_path / "x4"
    rows = upscale_folder(folder, out, workers=2, cpus_per_worker=0.5, batch_rows=2,
                          backend=OrtCpu(threads=1), tile=32, t=0.6)  # fmt: skip
    assert len(rows) == 5 and {r["status"] for r in rows} == {"written"}
    assert len(cli_outputs) == 5 and set(_files(out)) == set(cli_outputs)
    assert _files(out) == cli_outputs  # pixels and the settings record, byte for byte
    again = upscale_folder(folder, out, workers=1, cpus_per_worker=0.5, backend=OrtCpu(threads=1), tile=32, t=0.6)
    assert {r["status"] for r in again} == {"skipped"}, "a rerun with the same settings keeps current outputs"


def test_read_images_rows_give_the_same_files(cluster: None, folder: Path, cli_outputs: dict, tmp_path: Path) -> None:
    from oftsr_edge.scale.ray_adapter import RayUpscaler

    out = tmp_path / "x4"
    kwargs = {"output": out, "root": folder, "backend": OrtCpu(threads=1), "tile": 32, "t": 0.6}
    dataset = ray.data.read_images(str(folder), include_paths=True, mode="RGB")
    rows = dataset.map_batches(RayUpscaler, fn_constructor_kwargs=kwargs, batch_size=2, concurrency=1,
                               num_cpus=0.5).take_all()  # fmt: skip
    assert len(rows) == 5
    assert _files(out) == cli_outputs


def test_without_output_the_hr_pixels_come_back(photos: Path) -> None:
    """The adapter itself, outside Ray: a batch in, HR pixels out, equal to a plain Upscaler call."""
    import numpy as np

    from oftsr_edge.runtime.io.image_io import read_image
    from oftsr_edge.runtime.upscaler import Upscaler
    from oftsr_edge.scale.ray_adapter import RayUpscaler

    paths = sorted((photos / "LR_bicubic" / "X4").glob("*.png"))[:2]
    images = [read_image(p) for p in paths]
    column = np.empty(2, dtype=object)
    column[:] = images
    result = RayUpscaler(tile=32, t=0.3, seed=4)({"image": column})
    with Upscaler(tile=32) as up:
        for hr, lr in zip(result["image"], images):
            assert np.array_equal(hr, up.upscale(lr, t=0.3, seed=4))
