"""The workflow's jobs: one module per rule file (``workflow/rules/<stage>.smk`` -> ``jobs/<stage>.py``),
one function per rule, named after it, called with keyword arguments only.

``workflow/scripts/<rule>.py`` only unpacks Snakemake's ``snakemake`` object (its inputs, outputs,
params and wildcards; never ``snakemake.config``) and calls its job, so every job can be run and
tested without Snakemake. Heavy imports (torch, scikit-learn) sit inside the job functions: a rule's
code inputs are the modules its job function imports (``prestorepro.codedeps``), and a table or
figure job loads no torch.

Every metrics file starts with the same header (``common.header``): ``dataset`` (the name),
``dataset_config`` (its config entry), ``source``, ``method`` and ``seed``.
"""
