"""Comparing runs over seeds: statistics, AdaStop and the comparison report."""
