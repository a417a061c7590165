# Data stage (SPEC §1): downloads (local, checksummed) and one prepared file per dataset.


rule download_data:
    input:
        own=P.own_files,
    output:
        manifest=f"{R}/data/{{dataset}}/download.json",
    log:
        f"{R}/logs/download_data/{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        dataset=P.dataset_cfg,
        data_root=config["data_root"],
        allow_download=config["download"],
    script:
        "../scripts/download_data.py"


rule prepare_data:
    input:
        manifest=f"{R}/data/{{dataset}}/download.json",
        code=code_of("prepare_data"),
    output:
        npz=f"{R}/data/{{dataset}}/prepared.npz",
        meta=f"{R}/data/{{dataset}}/prepared.meta.json",
    log:
        f"{R}/logs/prepare_data/{{dataset}}.log",
    conda:
        ENV
    params:
        data_root=config["data_root"],
        dataset=P.dataset_cfg,
        split_seed=config["split_seed"],
        synthetic_n=config["synthetic"]["n"],
    script:
        "../scripts/prepare_data.py"
