"""PyTorch references shared by several test modules (imported by them)."""

from __future__ import annotations

import numpy as np
import torch


def scheduler_rates(make_scheduler, steps: int, lr: float = 0.1) -> np.ndarray:
    """The lr torch's optimizer uses at steps 0..steps-1, with ``scheduler.step()`` after each step."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return np.array(rates)
