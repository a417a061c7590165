"""A stand-in 'training': K-means-like partition of the toy data; writes metrics with provenance."""
import datetime
import json
import os

import numpy as np

with open(snakemake.input[0]) as f:
    z = np.asarray(json.load(f)["z"])
rng = np.random.default_rng(int(snakemake.wildcards.seed))
K = snakemake.params.K
centres = z[rng.choice(len(z), K, replace=False)]
for _ in range(10):
    part = np.argmin(((z[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    centres = np.stack([z[part == k].mean(0) if (part == k).any() else centres[k] for k in range(K)])
inertia = float(((z - centres[part]) ** 2).sum())
metrics = {
    "dataset": snakemake.wildcards.dataset,
    "seed": int(snakemake.wildcards.seed),
    "inertia": round(inertia, 9),
    "part_sizes": np.bincount(part, minlength=K).tolist(),
    "provenance": {
        "config": dict(snakemake.config),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    },
}
with open(snakemake.output[0], "w") as f:
    json.dump(metrics, f, indent=1)
with open(snakemake.log[0], "w") as f:
    f.write(f"threads={snakemake.threads} slurm_job_id={os.environ.get('SLURM_JOB_ID', '')}\n")
