"""Bundled models by name: the cards agree with the ONNX files, names and paths resolve, ``oftsr-edge models``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from oftsr_edge.cli import main
from oftsr_edge.contract import read_spec
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime import models
from oftsr_edge.runtime.models import MODELS_DIR, bundled_cards, default_name, load_cards, resolve_model
from oftsr_edge.runtime.upscaler import Upscaler


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_every_model_file_has_a_card_and_every_card_its_files() -> None:
    listed = {path.name for card in bundled_cards().values() for path in card.files.values()}
    on_disk = {path.name for path in MODELS_DIR.iterdir() if path.suffix in (".onnx", ".engine")}
    assert listed == on_disk
    assert default_name() in bundled_cards()


@pytest.mark.parametrize("name", sorted(bundled_cards()))
def test_cards_agree_with_the_onnx_metadata(name: str) -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np

    card = bundled_cards()[name]
    for precision, path in card.files.items():
        spec = read_spec(path, expect_precision=precision)
        assert (spec.name, spec.scale, spec.degradation) == (card.name, card.scale, card.degradation)
    proto = onnx.load(str(card.file()))
    weights = sum(int(np.prod(init.dims)) for init in proto.graph.initializer)
    extra = _stored_beyond_params(card.config)
    if extra is not None:  # + the fixed bicubic kernels and constants
        assert abs(weights - card.params - extra) <= 0.01 * card.params
    else:  # without torch: a base's inference form stores under 4 % more than the parameters
        assert 0.99 * card.params <= weights <= 1.05 * card.params
    rows = next(iter(card.metrics.values()))
    assert any(key.startswith("t=") for key in rows) and card.headline().startswith(next(iter(card.metrics)))


def _stored_beyond_params(config: str) -> int | None:
    """Values the exported graph stores beyond the network's parameters: a pretrained base is traced in its
    inference form, which holds some weights twice (smfanet_inference.py); None without torch (the runtime-only
    install), which the configs need."""
    try:
        import torch
    except ImportError:
        return None
    from oftsr_edge.train.model import CONFIGS
    from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet
    from oftsr_edge.train.smfanet_inference import SMFANetInference

    def stored(module: torch.nn.Module) -> int:
        return sum(t.numel() for t in [*module.parameters(), *module.buffers()])

    base = CONFIGS[config].base
    if base is None:
        return 0
    net = SMFANet(SMFANET_VARIANTS[base])
    return stored(SMFANetInference(net)) - stored(net)


@pytest.mark.parametrize("name", sorted(bundled_cards()))
def test_card_cost_matches_the_network_config(name: str) -> None:
    pytest.importorskip("torch")
    from oftsr_edge.train.model import CONFIGS, describe

    card = bundled_cards()[name]
    facts = describe(CONFIGS[card.config], card.scale)
    assert facts["params"] == card.params
    assert facts["gflops_per_output_mp"] == pytest.approx(card.gflops_per_output_mp, abs=0.05)


def test_names_paths_and_the_default_resolve(tmp_path: Path) -> None:
    default = bundled_cards()[default_name()].file()
    assert resolve_model() == resolve_model(default_name()) == resolve_model(f"{default_name()}_fp32") == default
    copy = shutil.copy(default, tmp_path / "mine.onnx")
    assert resolve_model(copy) == resolve_model(str(copy)) == Path(copy)
    with pytest.raises(OftsrError, match=r"no such model file, and not a bundled model name \(bundled: "):
        resolve_model(tmp_path / "missing.onnx")
    assert resolve_model(f"{default_name()}_int8").name == f"{default_name()}_int8.onnx"
    with pytest.raises(OftsrError, match="has no int8 file"):
        resolve_model("oftsr-small-x4_int8")  # bundled in fp32 only


def test_upscaler_without_a_model_opens_the_bundled_default() -> None:
    with Upscaler() as up:
        assert up.spec.name == default_name() and up.model_path == resolve_model()


def test_models_command_lists_and_describes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["name", "scale", "params"]
    assert any(line.startswith(f"{default_name()} *") for line in lines)
    card = bundled_cards()[default_name()]
    assert f"{card.params / 1e6:.2f} M" in out and f"{card.gflops_per_output_mp:.1f}" in out
    code, out, _ = run(capsys, "models", default_name())
    assert code == 0 and f"{card.params:,}" in out and card.training in out and "PSNR-Y" in out
    code, _, err = run(capsys, "models", "no-such-model")
    assert code == 2 and err.strip().splitlines() == [
        f"oftsr-edge: error: no bundled model 'no-such-model' (bundled: {', '.join(bundled_cards())}; or give an "
        ".onnx file)"
    ]


def _card_folder(tmp_path: Path, cards: dict, default: str) -> Path:
    (tmp_path / "models.json").write_text(json.dumps({"format_version": 1, "default": default, "models": cards}))
    return tmp_path


def test_more_models_are_one_card_entry_each(tmp_path: Path) -> None:
    base = json.loads((MODELS_DIR / "models.json").read_text())["models"][default_name()]
    other = {**base, "files": {"fp16": "other_fp16.onnx", "int8": "other_int8.onnx"}, "degradation": "realesrgan"}
    default, cards = load_cards(_card_folder(tmp_path, {default_name(): base, "other-x4": other}, "other-x4"))
    assert default == "other-x4" and cards["other-x4"].precisions == ("fp16", "int8")
    assert cards["other-x4"].file() == tmp_path / "other_fp16.onnx"  # no fp32: the first listed precision


@pytest.mark.parametrize(
    "change, message",
    [
        ({"scale": None}, "field 'scale' is missing"),
        ({"files": {"fp64": "a.onnx"}}, "'files' must map precisions"),
        ({"scale": 3}, "scale must be one of"),
        ({"speed": 1}, "unknown field"),
        ({"default": "b"}, "default 'b' is not one of its models"),
        ({"models": {}}, "'models' must be a non-empty object"),
        ({"models": {"a": "x"}}, "is not a JSON object"),
    ],
)
def test_a_broken_card_file_is_one_line(tmp_path: Path, change: dict, message: str) -> None:
    card = {**json.loads((MODELS_DIR / "models.json").read_text())["models"][default_name()]}
    card.update({k: v for k, v in change.items() if k not in ("default", "models")})
    card = {k: v for k, v in card.items() if v is not None}
    folder = _card_folder(tmp_path, change.get("models", {"a": card}), change.get("default", "a"))
    with pytest.raises(OftsrError, match=message):
        load_cards(folder)
    (tmp_path / "models.json").write_text("{not json")
    with pytest.raises(OftsrError, match="not readable JSON"):
        load_cards(tmp_path)


def test_a_missing_card_file_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    models._bundled.cache_clear()
    try:
        with pytest.raises(OftsrError, match="no bundled models; pass --model PATH"):
            resolve_model()
        with pytest.raises(OftsrError, match=r"bundled: none"):
            resolve_model("some-name")
    finally:
        models._bundled.cache_clear()
