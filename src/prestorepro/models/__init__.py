"""Component models (SPEC §3): the ResNet18 tail with configurable widths, the linear SVM, the gate."""
from prestorepro.models.resnet_tail import (
    CUT_CHANNELS,
    ResNetTail,
    count_parameters,
    stage_widths_for_cut,
)

__all__ = ["CUT_CHANNELS", "ResNetTail", "count_parameters", "stage_widths_for_cut"]
