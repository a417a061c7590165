# Adapter: ResNet18 feature maps of one prepared dataset.
from prestorepro.jobs.common import job_log, set_threads
from prestorepro.jobs.embed import embed

set_threads(snakemake.threads)
p = snakemake.params
with job_log(snakemake.log[0], "embed") as log:
    embed(prepared=snakemake.input.data, dataset_config=p.dataset, embedding=p.embedding, device=p.device,
          out_npz=snakemake.output.npz, out_json=snakemake.output.meta, log=log)
