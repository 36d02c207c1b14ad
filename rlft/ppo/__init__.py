"""rlft's own PPO: the math as pure functions (core) and the training loop (trainer)."""
