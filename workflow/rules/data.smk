# Data stage (SPEC §1): downloads (local, checksummed) and one prepared file per dataset.


rule download_data:
    input:
        own=P.run.own_files,
    output:
        manifest=P.run.path("download"),
    log:
        f"{R}/logs/download_data/{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        **specs.DownloadJob.params(P),
    script:
        "../scripts/download_data.py"


rule prepare_data:
    input:
        manifest=P.run.path("download"),
        code=code_of("prepare_data"),
    output:
        npz=P.run.path("prepared"),
        meta=P.run.path("prepared_meta"),
    log:
        f"{R}/logs/prepare_data/{{dataset}}.log",
    conda:
        ENV
    params:
        **specs.PrepareJob.params(P),
    script:
        "../scripts/prepare_data.py"
