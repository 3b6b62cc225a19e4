"""The MeanFlow target and loss against hand-computed values (linear networks), the identity's sign on an ODE with a
closed-form mean velocity, and the (r, s) distribution."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from oftsr_edge.train.meanflow import meanflow_loss, meanflow_target, sample_times


class LinearStudent(nn.Module):
    """u(x, x_lr, s, r) = a·x + b·r + c·s with scalar parameters (∂u/∂s = c ≠ 0 catches a wrong s tangent)."""

    def __init__(self, a: float, b: float, c: float) -> None:
        super().__init__()
        self.a, self.b, self.c = (nn.Parameter(torch.tensor(v)) for v in (a, b, c))

    def forward(self, x: torch.Tensor, x_lr: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return self.a * x + self.b * r.reshape(-1, 1, 1, 1) + self.c * s.reshape(-1, 1, 1, 1)


def linear_teacher(k: float, m: float):  # noqa: ANN201
    """v(x, x_lr, t) = k·x + m·t."""
    return lambda x, x_lr, t: k * x + m * t.reshape(-1, 1, 1, 1)


def one(value: float) -> torch.Tensor:
    return torch.full((1, 1, 1, 1), value)


def test_target_and_loss_by_hand_with_stop_gradient() -> None:
    # x0 = 1, x1 = 3, r = 0.5, s = 0.9 → x_r = 2; student a=0.5, b=1, c=2 → u = 1 + 0.5 + 1.8 = 3.3
    # teacher k=2, m=1 → v = 4.5; du/dr = a·v + b = 3.25 (tangents (v, 1, 0): c does not enter)
    # target = v + (s − r)·du/dr = 4.5 + 0.4·3.25 = 5.8; loss = (3.3 − 5.8)² = 6.25
    student = LinearStudent(0.5, 1.0, 2.0)
    r, s = torch.tensor([0.5]), torch.tensor([0.9])
    losses = meanflow_loss(student, linear_teacher(2.0, 1.0), one(1.0), one(3.0), one(0.0), r, s)
    assert losses.u.item() == pytest.approx(3.3, rel=1e-6)
    assert losses.target.item() == pytest.approx(5.8, rel=1e-6)
    assert losses.total.item() == pytest.approx(6.25, rel=1e-6)
    assert not losses.target.requires_grad
    losses.total.backward()
    # gradients only through u (SG on the target): dL/dθ = 2(u − target)·∂u/∂θ = −5·(x_r, r, s)
    assert student.a.grad.item() == pytest.approx(-5.0 * 2.0, rel=1e-6)
    assert student.b.grad.item() == pytest.approx(-5.0 * 0.5, rel=1e-6)
    assert student.c.grad.item() == pytest.approx(-5.0 * 0.9, rel=1e-6)


def test_r_equals_s_is_the_teacher_velocity() -> None:
    # (s − r) = 0: the JVP term drops out and the target is v_θ(x_r, r) itself
    x_r = torch.randn(2, 1, 2, 2)
    r = torch.tensor([0.3, 0.8])
    target = meanflow_target(LinearStudent(0.7, -2.0, 5.0), linear_teacher(1.5, 0.25), x_r, x_r, r, r)
    assert torch.allclose(target, 1.5 * x_r + 0.25 * r.reshape(-1, 1, 1, 1))


def test_jvp_term_is_the_total_derivative_along_the_flow() -> None:
    # a nonlinear student: du/dr along the flow = v·∂u/∂x + ∂u/∂r, checked against a finite difference of
    # u(x + ε·v, r + ε, s)
    def student(x: torch.Tensor, x_lr: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        rb, sb = r.reshape(-1, 1, 1, 1), s.reshape(-1, 1, 1, 1)
        return torch.sin(x) * rb**2 + x * x * sb + torch.cos(sb * rb)

    teacher = linear_teacher(-0.5, 2.0)
    x_r = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    r = torch.tensor([0.1, 0.4, 0.7], dtype=torch.float64)
    s = torch.tensor([0.6, 0.9, 0.75], dtype=torch.float64)
    target = meanflow_target(student, teacher, x_r, x_r, r, s)
    v = teacher(x_r, x_r, r)
    eps = 1e-6
    fd = (student(x_r + eps * v, x_r, s, r + eps) - student(x_r - eps * v, x_r, s, r - eps)) / (2 * eps)
    expected = v + (s - r).reshape(-1, 1, 1, 1) * fd
    assert torch.allclose(target, expected, atol=1e-6)


def test_the_exact_mean_velocity_has_zero_loss() -> None:
    # teacher dx/dt = λ·x: x(τ) = x_r·e^{λ(τ − r)}, so the mean velocity over [r, s] is x_r·(e^{λ(s − r)} − 1)/(s − r).
    # The student that computes exactly that satisfies the identity (zero loss); the same formula with the sign of
    # the interval flipped (a forward-in-r mistake) does not.
    lam = 0.8

    def exact(x: torch.Tensor, x_lr: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        h = (s - r).reshape(-1, 1, 1, 1)
        return x * torch.expm1(lam * h) / h

    def wrong(x: torch.Tensor, x_lr: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        h = (s - r).reshape(-1, 1, 1, 1)
        return x * torch.expm1(-lam * h) / -h

    teacher = lambda x, x_lr, t: lam * x  # noqa: E731
    x0, x1 = torch.randn(4, 3, 4, 4, dtype=torch.float64), torch.randn(4, 3, 4, 4, dtype=torch.float64)
    r = torch.tensor([0.0, 0.2, 0.5, 0.1], dtype=torch.float64)
    s = torch.tensor([0.9, 0.7, 0.6, 1.0], dtype=torch.float64)
    assert meanflow_loss(exact, teacher, x0, x1, x0, r, s).total.item() < 1e-20
    assert meanflow_loss(wrong, teacher, x0, x1, x0, r, s).total.item() > 1e-3


def test_states_are_the_interpolant() -> None:
    # u = x (a = 1) returns the state itself: x_r = (1 − r)·x0 + r·x1
    x0, x1 = one(1.0).repeat(2, 1, 1, 1), one(5.0).repeat(2, 1, 1, 1)
    r, s = torch.tensor([0.0, 0.25]), torch.tensor([0.5, 0.25])
    losses = meanflow_loss(LinearStudent(1.0, 0.0, 0.0), linear_teacher(0.0, 0.0), x0, x1, x0, r, s)
    assert losses.u.flatten().tolist() == pytest.approx([1.0, 2.0])


def test_time_distribution_shares_and_order() -> None:
    n = 20000
    r, s = sample_times(n, torch.Generator().manual_seed(0))
    assert bool((r >= 0).all() and (s <= 1).all() and (r <= s).all())
    zero, equal = (r == 0), (r == s) & (r > 0)
    assert zero.float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert equal.float().mean().item() == pytest.approx(0.25, abs=0.02)
    general = ~zero & ~equal
    assert general.float().mean().item() == pytest.approx(0.25, abs=0.02)
    # r = 0 pairs: s ~ U[0, 1]; general pairs: min/max of two uniforms, E[r] = 1/3, E[s] = 2/3
    assert s[zero].mean().item() == pytest.approx(0.5, abs=0.02)
    assert r[general].mean().item() == pytest.approx(1 / 3, abs=0.02)
    assert s[general].mean().item() == pytest.approx(2 / 3, abs=0.02)
    # reproducible from the step's generator
    r2, s2 = sample_times(n, torch.Generator().manual_seed(0))
    assert torch.equal(r, r2) and torch.equal(s, s2)
    with pytest.raises(ValueError):
        sample_times(4, torch.Generator(), r_zero=0.8, r_equals_s=0.3)
    assert math.isclose(float(sample_times(8, torch.Generator().manual_seed(1), 1.0, 0.0)[0].abs().sum()), 0.0)
