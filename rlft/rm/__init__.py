"""Reward models: scoring with a trained one, its quality report, and cached definitions."""
