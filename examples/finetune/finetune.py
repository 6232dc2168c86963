"""A stand-in fine-tuning loop: adapts a small linear model to a shifted task with numpy."""

import os

import numpy as np

print(f"NPUs {os.environ['ASCEND_RT_VISIBLE_DEVICES']} ({os.environ['SUANLI_ACCELERATOR_MODEL']})")
rng = np.random.default_rng(1)
base = rng.normal(size=(32, 8))
target = base + 0.1 * rng.normal(size=base.shape)
x = rng.normal(size=(512, 32))
y = x @ target
w = base.copy()
for step in range(1, int(os.environ.get("STEPS", "60")) + 1):
    grad = x.T @ (x @ w - y) / len(x)
    w -= 0.05 * grad
    if step % 10 == 0:
        print(f"step {step:3d}  mse {np.mean((x @ w - y) ** 2):.6f}")
print("fine-tuning done")
