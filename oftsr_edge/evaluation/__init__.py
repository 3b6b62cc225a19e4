"""Benchmarks and evaluation: ``bench`` (speed vs peers), ``eval`` (quality along t), ``tune-t`` (choose t).

Modules: :mod:`commands` (the click layer), :mod:`bench` + :mod:`timing` (speed), :mod:`peers`,
:mod:`peer_nets` (torch, export only) and :mod:`ncnn_peers` (comparison models), :mod:`dataset` + :mod:`quality` +
:mod:`methods` (scoring), :mod:`tune_t` (the t search), :mod:`plots` and :mod:`report` (outputs). Nothing here
imports torch or onnx at module level except :mod:`peer_nets`.
"""
