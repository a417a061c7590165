"""Component models (SPEC §3): the ResNet18 tail with configurable widths, the linear SVM, the gate.

``prestorepro.models.parameters`` counts their parameters without torch; the torch models are loaded
only when one of them is asked for, so the report jobs (which count but never build) stay torch-free.
"""
from prestorepro.models.parameters import CUT_CHANNELS, stage_widths_for_cut

__all__ = ["CUT_CHANNELS", "ResNetTail", "count_parameters", "stage_widths_for_cut"]


def __getattr__(name: str):
    if name in ("ResNetTail", "count_parameters"):
        from prestorepro.models import resnet_tail

        return getattr(resnet_tail, name)
    raise AttributeError(f"module 'prestorepro.models' has no attribute {name!r}")
