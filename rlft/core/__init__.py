"""The bottom layer: schema checks, YAML and run-file reading, recipe dataclasses, run folders, threads and
process groups. Imports nothing else of rlft."""

__version__ = "0.1.0"
