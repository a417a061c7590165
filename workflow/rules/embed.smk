# Embedding stage (SPEC §2): ResNet18 feature maps at the cut point, float16, with a sidecar.


rule embed:
    input:
        data=f"{R}/data/{{image_dataset}}/prepared.npz",
        code=code_of("embed"),
    output:
        npz=f"{R}/embeddings/{{image_dataset}}/features.npz",
        meta=f"{R}/embeddings/{{image_dataset}}/features.json",
    log:
        f"{R}/logs/embed/{{image_dataset}}.log",
    benchmark:
        f"{R}/benchmarks/embed/{{image_dataset}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.GPU,
    params:
        device=config["device"],
        dataset=P.dataset_cfg,
        embedding=config["embedding"],
    script:
        "../scripts/embed.py"
