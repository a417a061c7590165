"""The measured run the GPU check and the slow test make: config/rehearsal.yaml reduced to a scale."""
from __future__ import annotations

from pathlib import Path

from prestorepro.forecast.dag import ROOT
from prestorepro.io import write_text


def reduced_rehearsal(out_dir: str | Path, *, scale: float, datasets: tuple[str, ...] | None = None,
                      small: bool = False, device: str = "auto", cwd: Path = ROOT) -> Path:
    """``config/rehearsal.yaml`` with its stand-ins at ``scale`` (DermaMNIST's, the smallest, at up to 10x
    that) and the leeways scaled alike, into ``out_dir``; ``datasets`` keeps those image datasets (and the
    synthetic one). ``small`` also cuts what only keeps a quick run quick (the tests, the GPU check): the
    synthetic data to 2000 points, the pruning references and guides to narrow networks, the sweeps to two
    K and one student point, the coreset to 10% in batches of 16, the ablation to two factors. Returns the
    written config's path."""
    import yaml

    out = Path(out_dir)
    cfg = yaml.safe_load((cwd / "config" / "rehearsal.yaml").read_text())
    if datasets is not None:
        cfg["datasets"] = {n: d for n, d in cfg["datasets"].items() if n == "synthetic" or n in datasets}
    for name, d in cfg["datasets"].items():
        if d["source"] == "standin":
            d["scale"] = min(1.0, 10 * scale) if d["like"] == "dermamnist" else scale
            d["leeway"] = int(d["leeway"] * d["scale"])
    cfg.update(results=str(out / "results"), data_root=str(out / "data"), device=device)
    if small:
        cfg["synthetic"]["n"] = 2000
        cfg["presto"]["k_sweep"] = [3, 4]
        cfg["compress"].update(reference_widths=[16, 32, 64], teacher_widths=[16, 32, 64],
                               assistant_widths=[8, 16, 32], presto_k_sweep=[3, 4], student_sweep_points=1)
        cfg["coreset"].update(batch_size=16, fractions=[0.1], one_over_k=False)
        cfg["coreset"]["pbcs"]["lr"] = [0.05]
        cfg["ablation"]["factors"] = {"singleton": ["current", "trained"], "epsilon_scale": [0, 1]}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "rehearsal.yaml"
    write_text(path, yaml.safe_dump(cfg, sort_keys=False))
    return path
