"""The realism end's reference cache: written once, resumable, refused when mixed, read back as aligned pairs, and
used by ``distill --realism-cache`` as the t = 1 target.

The trained peer (Real-ESRGAN x4plus through ncnn) is not installed in CI, so the writer's tests stand a small
deterministic function in for it at the one place the writer asks for a peer (``ncnn_peers.make``): what is under
test is our cache logic (which crops, what is stored, resume, refusal), not the peer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from oftsr_edge.errors import OftsrError
from tests.helpers.cli import assert_one_line_error, run_main

pytest.importorskip("scipy")


class NearestPeer:
    """Stands in for the ncnn peer: a nearest-neighbour x4 upscale of its input, counting its calls."""

    def __init__(self, weights: Path) -> None:
        self.weights, self.calls = weights, 0

    def run(self, lr: np.ndarray) -> np.ndarray:
        self.calls += 1
        return lr.repeat(4, axis=2).repeat(4, axis=3)


@pytest.fixture()
def peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NearestPeer:
    weights = tmp_path / "peer.bin"
    weights.write_bytes(b"stand-in weights")
    stand_in = NearestPeer(weights)
    monkeypatch.setattr("oftsr_edge.evaluation.ncnn_peers.make", lambda name: (stand_in, ""))
    monkeypatch.setattr("importlib.metadata.version", lambda name: "0.0-test")
    return stand_in


def _settings(data: Path, seed: int = 0, lr_size: int = 16):  # noqa: ANN202
    from oftsr_edge.teachers.reference_cache import CacheSettings

    return CacheSettings("realesrgan-ncnn", str(data), (), "realesrgan-mix", 4, lr_size, seed)


def test_cache_is_resumable_deterministic_and_refuses_other_settings(tmp_path: Path, train_images: Path,
                                                                      peer: NearestPeer) -> None:
    from oftsr_edge.teachers.reference_cache import build_reference_cache
    from oftsr_edge.train.reference_set import ReferenceSet

    out = tmp_path / "cache"
    assert build_reference_cache(out, _settings(train_images), 2) == 2
    first = (out / "000001.npz").read_bytes()
    assert build_reference_cache(out, _settings(train_images), 3) == 1 and peer.calls == 3  # resumes: only crop 2
    (out / "000001.npz").unlink()
    assert build_reference_cache(out, _settings(train_images), 3) == 1
    assert (out / "000001.npz").read_bytes() == first  # crop i depends only on (data, seed, i)
    manifest = json.loads((out / "reference.json").read_text())
    assert manifest["licence"] == "BSD-3-Clause" and manifest["settings"]["lr_size"] == 16
    assert not [p for p in out.iterdir() if p.suffix not in (".npz", ".json")]  # no temporaries left
    with pytest.raises(OftsrError, match="other settings"):
        build_reference_cache(out, _settings(train_images, seed=1), 4)
    (out / "reference.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "format"}))
    with pytest.raises(OftsrError, match="format-1 reference cache"):
        build_reference_cache(out, _settings(train_images), 4)
    (out / "reference.json").write_text(json.dumps(manifest))
    refs = ReferenceSet.load(out, 4)
    assert len(refs) == 3
    lr, ref, photo = refs.sample(5, 32, np.random.default_rng(0))
    assert lr.shape == (5, 8, 8, 3) and ref.shape == (5, 32, 32, 3) and photo is None
    np.testing.assert_array_equal(ref, lr.repeat(4, axis=1).repeat(4, axis=2))  # sub-crops and flips stay aligned


def test_detail_blend_follows_the_photo_where_the_peer_drew_detail_and_the_peer_where_it_is_flat() -> None:
    """Left half of the peer's output flat grey, right half a checkerboard: the target is the peer's output on the
    left, the photo on the right, a ramp only near the seam, and always between the two."""
    from oftsr_edge.train.reference_set import detail_blend

    peer = torch.zeros(1, 3, 32, 64)
    peer[..., 32:] = torch.tensor([[-0.5, 0.5], [0.5, -0.5]]).repeat(16, 16)
    photo = torch.rand(1, 3, 32, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = detail_blend(peer, photo)
    torch.testing.assert_close(out[..., :20], peer[..., :20])
    torch.testing.assert_close(out[..., 44:], photo[..., 44:])
    low, high = torch.minimum(peer, photo), torch.maximum(peer, photo)
    assert bool(((out >= low - 1e-6) & (out <= high + 1e-6)).all())
    faint = peer * 0.01  # texture under the flat end of the ramp counts as flat
    torch.testing.assert_close(detail_blend(faint, photo), faint)


def test_blended_batches_need_the_photos(tmp_path: Path) -> None:
    from oftsr_edge.train.reference_set import ReferenceBatches, ReferenceSet

    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "reference.json").write_text(json.dumps({"format": 2, "settings": {"scale": 4}}))
    out = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.savez_compressed(folder / "000000.npz", lr=out[::4, ::4], ref=out, hr=255 - out)

    def condition(lr: torch.Tensor) -> torch.Tensor:  # (B, 3·16, h, w), pixel-shuffled to x4 like the model's
        return lr.repeat(1, 16, 1, 1)

    with pytest.raises(ValueError, match="blend needs"):
        ReferenceBatches(ReferenceSet.load(folder, 4), condition, 0.1, 2, 32, blend=True)
    batches = ReferenceBatches(ReferenceSet.load(folder, 4, photo=True), condition, 0.1, 2, 32, blend=True)
    _, peer, _, target = batches(torch.Generator().manual_seed(0), torch.device("cpu"))
    assert target is not None and target.shape == peer.shape
    assert not torch.equal(target, peer)  # random noise is all detail: the photo shows through


def test_photos_are_sampled_at_the_peer_outputs_place_without_changing_the_draws(tmp_path: Path) -> None:
    """--lpips-target photo reads each crop's HR photo; the (lr, ref) a seed draws stay what they were without it."""
    from oftsr_edge.train.reference_set import ReferenceSet

    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "reference.json").write_text(json.dumps({"format": 2, "settings": {"scale": 4}}))
    rng = np.random.default_rng(0)
    for i in range(3):
        out = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        np.savez_compressed(folder / f"{i:06d}.npz", lr=out[::4, ::4], ref=out, hr=255 - out)
    plain, with_photos = ReferenceSet.load(folder, 4), ReferenceSet.load(folder, 4, photo=True)
    lr, ref, none = plain.sample(6, 32, np.random.default_rng(7))
    lr2, ref2, photo = with_photos.sample(6, 32, np.random.default_rng(7))
    assert none is None and photo is not None
    np.testing.assert_array_equal(lr, lr2)
    np.testing.assert_array_equal(ref, ref2)
    np.testing.assert_array_equal(photo, 255 - ref)  # same window, same flips
    np.savez_compressed(folder / "000003.npz", lr=out[::4, ::4], ref=out)  # a crop without its photo
    assert len(ReferenceSet.load(folder, 4)) == 4
    with pytest.raises(OftsrError, match="unreadable crop .*000003"):
        ReferenceSet.load(folder, 4, photo=True)


def test_reference_set_errors_name_the_problem(tmp_path: Path) -> None:
    from oftsr_edge.train.reference_set import ReferenceSet

    with pytest.raises(OftsrError, match="not a reference cache"):
        ReferenceSet.load(tmp_path, 4)
    (tmp_path / "reference.json").write_text(json.dumps({"settings": {"scale": 4}}))
    with pytest.raises(OftsrError, match="format-1 cache"):  # made before the ncnn input fix: corrupt outputs
        ReferenceSet.load(tmp_path, 4)
    (tmp_path / "reference.json").write_text(json.dumps({"format": 2, "settings": {"scale": 2}}))
    with pytest.raises(OftsrError, match="x2 outputs; the teacher is x4"):
        ReferenceSet.load(tmp_path, 4)
    (tmp_path / "reference.json").write_text(json.dumps({"format": 2, "settings": {"scale": 4}}))
    with pytest.raises(OftsrError, match="no crops yet"):
        ReferenceSet.load(tmp_path, 4)
    (tmp_path / "000000.npz").write_bytes(b"cut short")
    with pytest.raises(OftsrError, match="unreadable crop"):
        ReferenceSet.load(tmp_path, 4)


def _fake_cache(folder: Path, count: int = 3) -> Path:
    """A cache whose reference is a constant grey image: a target the student can only reach by changing."""
    folder.mkdir()
    (folder / "reference.json").write_text(json.dumps({"format": 2, "settings": {"scale": 4}, "licence": "test"}))
    rng = np.random.default_rng(0)
    for i in range(count):
        np.savez_compressed(folder / f"{i:06d}.npz", lr=rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
                            ref=np.full((64, 64, 3), 200, np.uint8), hr=np.full((64, 64, 3), 40, np.uint8))
    return folder


def test_distill_with_a_realism_cache_pulls_t1_to_the_reference(tmp_path: Path, tiny_student_dir: Path,
                                                                 train_images: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from oftsr_edge.train.checkpoint import load_checkpoint

    teacher = tiny_student_dir.parent / "teacher"
    cache = _fake_cache(tmp_path / "cache")
    common = ["--teacher", str(teacher), "--data", str(train_images), "--steps", "2", "--ckpt-every", "2",
              "--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet"]
    proc = run_main(capsys, "distill", *common, "--output", str(tmp_path / "no"), "--realism-cache", str(cache))
    assert_one_line_error(proc, "--realism-cache needs a realism term")
    proc = run_main(capsys, "distill", *common, "--output", str(tmp_path / "no"), "--realism-cache", str(cache),
                    "--lambda-l1", "1", "--lpips-target", "photo")
    assert_one_line_error(proc, "--lpips-target photo sets TV-LPIPS's target")
    proc = run_main(capsys, "distill", *common, "--output", str(tmp_path / "no"), "--realism-cache", str(cache),
                    "--lambda-l1", "1", "--lpips-target", "blend")
    assert_one_line_error(proc, "--lpips-target blend sets TV-LPIPS's target")
    run = tmp_path / "run"
    proc = run_main(capsys, "distill", *common, "--output", str(run), "--realism-cache", str(cache),
                    "--lambda-l1", "1", "--learning-rate", "1e-2")
    assert proc.code == 0, proc.err
    target = json.loads((run / "config.json").read_text())["distill"]["realism"]
    assert target["lambda_l1"] == 1 and target["target"]["crops"] == 3 and target["target"]["licence"] == "test"
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["l1_t1"] > 0
    # the student moved towards the grey reference at t = 1 compared with the teacher it started from
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 16, 16) * 2 - 1
    grey = 200 / 127.5 - 1

    def t1_error(path: Path, kind: str) -> float:
        model = load_checkpoint(path, kind=kind).build_model("model").eval()
        with torch.no_grad():
            x_lr = torch.nn.functional.pixel_shuffle(model.condition(lr), 4)
            return float((x_lr + model(x_lr, x_lr, torch.ones(1)) - grey).abs().mean())

    assert t1_error(run, "student") < t1_error(teacher, "teacher")


@pytest.mark.opt_in("lpips-weights")
@pytest.mark.parametrize("target", ["photo", "blend"])
def test_distill_with_tv_lpips_against_the_photo(target: str, tmp_path: Path, tiny_student_dir: Path,
                                                 train_images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.metrics.test_lpips import _weights_dir

    run = tmp_path / "run"
    proc = run_main(capsys, "distill", "--teacher", str(tiny_student_dir.parent / "teacher"), "--data",
                    str(train_images), "--steps", "2", "--ckpt-every", "2", "--batch-size", "2", "--crop", "32",
                    "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet", "--output", str(run),
                    "--realism-cache", str(_fake_cache(tmp_path / "cache")), "--lambda-l1", "1", "--lambda-lpips",
                    "1", "--lpips-target", target, "--lpips-weights", str(_weights_dir()))
    assert proc.code == 0, proc.err
    realism = json.loads((run / "config.json").read_text())["distill"]["realism"]
    assert realism["lpips_target"] == target and realism["target"]["crops"] == 3
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["tv_lpips"] > 0 and last["l1_t1"] > 0
