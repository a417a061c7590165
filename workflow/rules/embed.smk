# Embedding stage (SPEC §2): ResNet18 feature maps at the cut point, float16, with a sidecar.


rule embed:
    input:
        data=P.run.path("prepared", dataset="{image_dataset}"),
        code=code_of("embed"),
    output:
        npz=P.run.path("features", dataset="{image_dataset}"),
        meta=P.run.path("features_meta", dataset="{image_dataset}"),
    log:
        f"{R}/logs/embed/{{image_dataset}}.log",
    benchmark:
        f"{R}/benchmarks/embed/{{image_dataset}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.EmbedJob.params(P),
    script:
        "../scripts/embed.py"
