"""Eq. 5, 9, 10, 11 against hand-computed values with linear "networks" where every term has a closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from oftsr_edge.train.losses import distillation_losses, flow_matching_loss
from oftsr_edge.train.solvers import rk_step


class Linear(nn.Module):
    """v(x, x_lr, t) = a·x + b·t with scalar parameters."""

    def __init__(self, a: float, b: float, trainable: bool = True) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a), requires_grad=trainable)
        self.b = nn.Parameter(torch.tensor(b), requires_grad=trainable)

    def forward(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.a * x + self.b * t.reshape(-1, 1, 1, 1)


def one(value: float) -> torch.Tensor:
    return torch.full((1, 1, 1, 1), value)


def test_flow_matching_loss_eq5() -> None:
    # x0 = 1, x1 = 2, t = 0.5: x_t = 1.5, v = 0.5·1.5 + 1·0.5 = 1.25, target x1 − x0 = 1 → |0.25|
    loss = flow_matching_loss(Linear(0.5, 1.0), one(2.0), one(1.0), one(0.0), torch.tensor([0.5]))
    assert loss.item() == pytest.approx(0.25)


def test_distillation_losses_euler_by_hand() -> None:
    # student a=0.5, b=1; teacher v = 2x; x0 = 1; t = 0.5, dt = 0.05, s = 0.55
    # v_t = 1, v_s = 1.05, v_0 = 0.5, x_t = 1.5, teacher v(x_t) = 3
    # target = 1 + (0.05/0.55)(3 − 1) = 1.181818..; distill = (1.05 − 1.181818)² ; align = (0.5·(1 − 3))² = 1
    # bc = (0.5 − 2)² = 2.25
    student, teacher = Linear(0.5, 1.0), Linear(2.0, 0.0, trainable=False)
    losses = distillation_losses(student, teacher, one(1.0), one(0.0), torch.tensor([0.5]), dt=0.05,
                                 teacher_step="euler", lambda_align=0.01, lambda_bc=0.1)
    target = 1 + (0.05 / 0.55) * 2
    assert losses.distill.item() == pytest.approx((1.05 - target) ** 2, rel=1e-5)
    assert losses.align.item() == pytest.approx(1.0, rel=1e-6)
    assert losses.bc.item() == pytest.approx(2.25, rel=1e-6)
    assert losses.total.item() == pytest.approx((1.05 - target) ** 2 + 0.01 + 0.225, rel=1e-5)
    # stop-gradient on the Eq. 9 target: dL/db = 2(v_s − target)·s + λ_align·2·(1−t)²(v_t − 3)·t ; Eq. 11 has t = 0
    losses.total.backward()
    expected_db = 2 * (1.05 - target) * 0.55 + 0.01 * 2 * 0.25 * (1 - 3) * 0.5
    assert student.b.grad.item() == pytest.approx(expected_db, rel=1e-5)
    # dL/da: Eq. 9 → 2(v_s − target)·x0 ; Eq. 10 → λ·2·0.25·(v_t − 3)·x0 ; Eq. 11 → λ_bc·2·(0.5 − 2)·x0
    expected_da = 2 * (1.05 - target) + 0.01 * 2 * 0.25 * (1 - 3) + 0.1 * 2 * (0.5 - 2)
    assert student.a.grad.item() == pytest.approx(expected_da, rel=1e-5)


def test_distillation_midpoint_teacher_step() -> None:
    # midpoint: k1 = 3 at x_t = 1.5; x_mid = 1.5 + 0.025·3 = 1.575; v_step = 3.15
    student, teacher = Linear(0.5, 1.0), Linear(2.0, 0.0, trainable=False)
    losses = distillation_losses(student, teacher, one(1.0), one(0.0), torch.tensor([0.5]), dt=0.05,
                                 teacher_step="midpoint")
    target = 1 + (0.05 / 0.55) * (3.15 - 1)
    assert losses.distill.item() == pytest.approx((1.05 - target) ** 2, rel=1e-5)
    assert losses.align.item() == pytest.approx(1.0, rel=1e-6)  # Eq. 10 uses v_θ(x_t, t), not the step velocity


@pytest.mark.parametrize(("method", "expected"), [
    ("euler", 3.0),                       # v(x_t) = 2·1.5
    ("midpoint", 2 * (1.5 + 0.05 * 3)),              # v(x_t + dt/2·k1)
    ("heun", 0.5 * (3.0 + 2 * (1.5 + 0.1 * 3))),     # mean of v(x_t) and v(x_t + dt·k1)
    ("ralston", 0.25 * 3.0 + 0.75 * 2 * (1.5 + 0.2)),  # ¼k1 + ¾v(x_t + ⅔dt·k1)
])
def test_teacher_rk_steps(method: str, expected: float) -> None:
    net = Linear(2.0, 0.0)
    v, k1 = rk_step(lambda x, t: net(x, one(0.0), t), one(1.5), torch.tensor([0.5]), 0.1, method)
    assert v.item() == pytest.approx(expected, rel=1e-6)
    assert k1.item() == pytest.approx(3.0)


def test_student_on_the_teacher_path_has_zero_distill_and_bc_loss() -> None:
    # teacher v = c·t + d (state-independent): its ODE from x0 gives x_s = x0 + c·s²/2 + d·s, so the exact one-step
    # student is v(x0, s) = c·s/2 + d. With a = 0, b = c/2 and the teacher's own bias d the student sits on the
    # teacher's path: the Euler-free midpoint step is exact for a linear-in-t velocity, Eq. 9 and Eq. 11 vanish,
    # while Eq. 10 (student vs teacher velocity at t) does not.
    c, d = 0.8, 0.3

    class TeacherLinT(nn.Module):
        def forward(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(x) + c * t.reshape(-1, 1, 1, 1) + d

    class Student(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b = nn.Parameter(torch.tensor(c / 2))

        def forward(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(x) + self.b * t.reshape(-1, 1, 1, 1) + d

    t = torch.tensor([0.2, 0.7])
    x0 = torch.randn(2, 1, 3, 3)
    losses = distillation_losses(Student(), TeacherLinT(), x0, torch.zeros_like(x0), t, teacher_step="midpoint")
    assert losses.distill.item() < 1e-12
    assert losses.bc.item() < 1e-12
    # Eq. 10: (1 − t)²·(c·t/2 − c·t)² averaged over the batch
    expected_align = float((((1 - t) * (c * t / 2)) ** 2).mean())
    assert losses.align.item() == pytest.approx(expected_align, rel=1e-5)
    # a student off the path is penalised
    off = Student()
    with torch.no_grad():
        off.b.fill_(c)
    assert distillation_losses(off, TeacherLinT(), x0, torch.zeros_like(x0), t).distill.item() > 1e-4
