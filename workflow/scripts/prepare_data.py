# Adapter: split one dataset into train/val/test and store it in the common format.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.data import prepare_data

p = snakemake.params
with job_log(snakemake.log[0], "prepare_data") as log:
    prepare_data(dataset_config=p.dataset, data_root=p.data_root, split_seed=p.split_seed, synthetic_n=p.synthetic_n,
                 out_npz=snakemake.output.npz, log=log, dataset=snakemake.wildcards.dataset)
