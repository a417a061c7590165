"""The resource-constrained comparison (paper §4.2, App. B.5; SPEC §6): pruning at initialisation
(``pruning``: SNIP, GraSP), knowledge distillation (``distill``: KD, DGKD), the methods at a parameter
budget (``methods``, ``budget``), and peak-memory measurement (``memory``, ``ledger``). Design:
docs/compress.md. The package imports nothing itself, so the torch-free ``budget`` can be read
while the workflow is planned."""
