# Adapter: the ablation variants of PRESTO on one image dataset and seed (Table-1 PRESTO runs, one factor changed).
from prestorepro.experiments.ablation import CONFIGURED
from prestorepro.jobs import ablation, job_log, set_threads, train_table1

set_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params
outputs = {v: {"metrics": m, "assignment": a}
           for v, m, a in zip(p.variants, snakemake.output.metrics, snakemake.output.assignments)}


def run_variant(name, settings, paths, checkpoint):
    config = dict(snakemake.config, presto=settings["presto"], table1=p.table1,
                  components=dict(snakemake.config["components"], widths=p.widths))
    train_table1(snakemake.input.features, snakemake.input.meta, settings["dataset"], config, "presto", int(p.k),
                 int(w.seed), paths["metrics"], paths["assignment"], checkpoint, log,
                 dataset_name=f"{w.image_dataset} ablation {name}",
                 other_gates=name == CONFIGURED)


with job_log(snakemake.log[0], "train_ablation") as log:
    ablation("image", p.settings, outputs, int(w.seed), p.checkpoint_dir, log, dataset_name=w.image_dataset,
             run_variant=run_variant)
