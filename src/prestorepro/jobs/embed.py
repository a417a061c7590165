"""The job of workflow/rules/embed.smk: ResNet18 feature maps of a prepared dataset."""
from __future__ import annotations

from typing import TYPE_CHECKING

import time

import numpy as np

from prestorepro.io import write_json, write_npz
from prestorepro.provenance import provenance

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import EmbedJob


def embed(job: EmbedJob, log) -> None:
    """Features of every split (float16) and a sidecar with their shapes, checksums and provenance."""
    from prestorepro.data import load_prepared
    from prestorepro.device import resolve_device
    from prestorepro.embed import build_trunk, extract_features
    from prestorepro.io import sha256_array

    prepared, dataset_config, embedding, device = job.prepared, job.dataset_config, job.embedding, job.device
    out_npz, out_json = job.out_npz, job.out_json
    dev = resolve_device(device)
    data = load_prepared(prepared)
    trunk = build_trunk(embedding["weights"], dataset_config["cut"], seed=embedding["seed"])
    arrays, shapes, seconds = {}, {}, {}
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        t0 = time.perf_counter()
        arrays[f"{split}_x"] = extract_features(x, trunk, batch_size=embedding["batch_size"], device=dev,
                                                desc=f"embed {split}", log=log.info)
        seconds[split] = time.perf_counter() - t0
        # the trunk's output is checked in float32; float16 storage can still overflow to inf
        bad = int(np.count_nonzero(~np.isfinite(arrays[f"{split}_x"])))
        if bad:
            raise FloatingPointError(
                f"embedding of {prepared}: {bad} feature values of the {split} split are non-finite after "
                f"conversion to float16 (|value| > 65504); nothing was written to {out_npz}")
        arrays[f"{split}_y"] = y.astype(np.int64)
        shapes[split] = list(arrays[f"{split}_x"].shape)
    write_npz(out_npz, **arrays)
    write_json(out_json, {
        "shapes": shapes, "feature_shape": shapes["train"][1:], "dtype": "float16", "cut": dataset_config["cut"],
        "weights": embedding["weights"], "num_classes": data.num_classes, "image_shape": list(data.train_x.shape[1:]),
        "checksums": {k: sha256_array(v) for k, v in arrays.items()}, "seconds": seconds,
        "provenance": provenance({"dataset": dict(dataset_config), "embedding": dict(embedding)}, embedding["seed"],
                                 dev),
    })
