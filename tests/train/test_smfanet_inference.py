"""SMFANet's inference form computes the reference's function and exports to the graph ONNX Runtime runs fast.

The equality tests use random weights with random α and β (the published init has α = 1, β = 0, which would hide a
wrong fold); the graph tests trace the tiny variant with the exporter the project uses (dynamo, opset 18).
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from oftsr_edge.contract import INPUT_LR, OUTPUT_HR
from oftsr_edge.train.smfanet import SMFANet, SMFANetConfig
from oftsr_edge.train.smfanet_inference import ChannelNorm, SMFANetInference, gelu


def _random_net(config: SMFANetConfig, seed: int = 0) -> SMFANet:
    torch.manual_seed(seed)
    net = SMFANet(config).eval()
    with torch.no_grad():
        for block in net.feats:
            block.smfa.alpha.normal_(1.0, 0.5)
            block.smfa.belt.normal_(0.0, 0.5)
    return net


@pytest.mark.parametrize("config", [SMFANetConfig(dim=8, blocks=1), SMFANetConfig(dim=16, blocks=2, ffn_scale=2.0)])
def test_inference_form_equals_the_reference_on_random_inputs(config: SMFANetConfig) -> None:
    net = _random_net(config)
    fast = SMFANetInference(net)
    gen = torch.Generator().manual_seed(1)
    for shape in [(1, 3, 16, 24), (2, 3, 32, 8)]:
        lr = torch.rand(*shape, generator=gen)
        with torch.no_grad():
            ref, out = net(lr), fast(lr)
            assert out.shape == ref.shape
            assert (out - ref).abs().max().item() < 1e-5
            assert torch.allclose(fast.forward_unshuffled(lr), net.forward_unshuffled(lr), atol=1e-5)
    assert not any(p.requires_grad for p in fast.parameters())
    assert set(net.state_dict()) == set(SMFANet(config).state_dict())  # the reference's weights are untouched


def test_channel_norm_and_gelu_match_torch_including_zero_and_tiny_pixels() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 5, 6, generator=gen)
    x[0, :, 0, 0] = 0.0  # F.normalize leaves an all-zero pixel at zero
    x[1, :, 1, 1] = 1e-14  # below eps: divided by eps, not by its own norm
    assert torch.allclose(ChannelNorm(8)(x), F.normalize(x), rtol=1e-6, atol=1e-7)
    assert torch.allclose(gelu(x * 4), F.gelu(x * 4), rtol=1e-6, atol=1e-6)


def _export(module: torch.nn.Module, path: Path) -> None:
    from torch.export import Dim

    program = torch.onnx.export(module, (torch.rand(1, 3, 16, 24),), input_names=[INPUT_LR],
                                output_names=[OUTPUT_HR],
                                dynamic_shapes={INPUT_LR: {2: 8 * Dim("hm"), 3: 8 * Dim("wm")}}, opset_version=18,
                                dynamo=True, verbose=False)
    program.save(str(path))


def _optimized_ops(path: Path, tmp_path: Path) -> collections.Counter:
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3  # the NCHWc "hardware specific" notice
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return collections.Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)


@pytest.mark.filterwarnings("ignore")
def test_exported_inference_form_runs_fused_in_onnx_runtime_and_matches_the_reference(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    net = _random_net(SMFANetConfig(dim=8, blocks=1))
    _export(SMFANetInference(net), tmp_path / "fast.onnx")
    ops = _optimized_ops(tmp_path / "fast.onnx", tmp_path)
    # the slow or layout-breaking ops of the reference's graph are gone; GELU is one fused kernel
    assert not {"ReduceL2", "Split", "Concat", "Erf"} & set(ops), ops
    assert ops["Gelu"] == 5  # per block: local MLP, gate, both PCFN expands, the partial conv
    lr = np.random.default_rng(0).random((1, 3, 24, 32), dtype=np.float32)
    out = ort.InferenceSession(str(tmp_path / "fast.onnx"), providers=["CPUExecutionProvider"]).run(None, {"lr": lr})
    with torch.no_grad():
        ref = net(torch.from_numpy(lr)).numpy()
    assert np.abs(out[0] - ref).max() < 1e-5
