# Adapter: the ablation variants of PRESTO on the synthetic data for one seed (the synthetic experiment, one
# factor changed).
from prestorepro.experiments.ablation import CONFIGURED
from prestorepro.jobs import ablation, job_log, set_threads, synthetic

set_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params
outputs = {v: {"metrics": m, "rounds": r} for v, m, r in zip(p.variants, snakemake.output.metrics, snakemake.output.rounds)}


def run_variant(name, settings, paths, checkpoint):
    config = dict(snakemake.config, synthetic=settings["synthetic"],
                  presto=dict(snakemake.config["presto"], **settings["algorithm"]))
    synthetic(snakemake.input.data, config, int(w.seed), paths["metrics"], paths["rounds"], checkpoint, log,
              dataset_name=f"{w.synthetic_dataset} ablation {name}",
              other_gates=name == CONFIGURED)


with job_log(snakemake.log[0], "synthetic_ablation") as log:
    ablation("synthetic", p.settings, outputs, int(w.seed), p.checkpoint_dir, log, dataset_name=w.synthetic_dataset,
             run_variant=run_variant)
