"""Running recipes: loading with cross-checks, the pipeline, resume, reports, seed sweeps."""
