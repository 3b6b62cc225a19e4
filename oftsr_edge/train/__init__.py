"""Training side of oftsr-edge (PyTorch): model, data and degradations, flow training, ODE sampling, distillation.

Importing this package does not import torch; the modules inside do. ``commands`` is torch-free at import time so
the CLI can explain a missing ``[train]`` extra in one line.
"""
