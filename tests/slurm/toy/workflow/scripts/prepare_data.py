"""Standardises the toy data."""
import json
import socket

import numpy as np

with open(snakemake.input[0]) as f:
    x = np.asarray(json.load(f)["x"])
z = (x - x.mean(0)) / x.std(0)
with open(snakemake.output[0], "w") as f:
    json.dump({"z": z.round(9).tolist()}, f)
with open(snakemake.log[0], "w") as f:
    f.write(f"host={socket.gethostname()}\n")
