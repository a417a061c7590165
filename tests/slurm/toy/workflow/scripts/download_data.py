"""Writes a deterministic 'raw' data set (no network: a download stand-in)."""
import json

import numpy as np

# seeded by the data set name so every run writes the same numbers
rng = np.random.default_rng(sum(map(ord, snakemake.wildcards.dataset)))
x = rng.normal(size=(40, 2)).round(6).tolist()
with open(snakemake.output[0], "w") as f:
    json.dump({"x": x}, f)
