"""Held-out generation and scoring, evaluation metrics, the pre-run check and the reward-hacking alarms."""
