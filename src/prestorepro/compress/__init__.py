"""The resource-constrained comparison (paper §4.2, App. B.5; SPEC §6): pruning at initialisation
(SNIP, GraSP), knowledge distillation (KD, DGKD), and peak-memory measurement."""
from prestorepro.compress.distill import (
    STUDENT_BASE_WIDTHS,
    Distiller,
    dgkd_loss,
    kd_loss,
    match_student_widths,
    tail_parameter_count,
)
from prestorepro.compress.memory import MemoryProbe
from prestorepro.compress.pruning import (
    PRUNING_CRITERIA,
    apply_masks,
    class_balanced_sample,
    count_kept_parameters,
    count_unprunable,
    empty_layers,
    grasp_scores,
    mask_summary,
    prunable_parameters,
    prune_to_budget,
    snip_scores,
)

__all__ = [
    "STUDENT_BASE_WIDTHS", "Distiller", "dgkd_loss", "kd_loss", "match_student_widths", "tail_parameter_count",
    "MemoryProbe", "PRUNING_CRITERIA", "apply_masks", "class_balanced_sample", "count_kept_parameters",
    "count_unprunable", "empty_layers", "mask_summary", "grasp_scores", "prunable_parameters", "prune_to_budget", "snip_scores",
]
