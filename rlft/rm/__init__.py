"""Reward models: scoring with a trained one (and serving it as a reward), and its quality report. Definitions in
reward_models/ are loaded by rlft.runner.recipe and trained once, cached, by rlft.runner.pipeline."""
