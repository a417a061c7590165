"""Experiment runners: one function per job of the workflow, importable and testable without Snakemake."""
