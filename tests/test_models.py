"""The component architecture (SPEC §3) against torchvision's ResNet building blocks."""
import pytest
import torch
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock

from prestorepro.models import resnet_tail
from prestorepro.models.resnet_tail import BasicBlock, ResNetTail


@pytest.mark.parametrize("cut", ["layer1", "layer2"])
def test_resnet_tail_equals_one_built_from_torchvision_blocks(cut, monkeypatch):
    torch.manual_seed(3)
    ours = ResNetTail(cut, (4, 8, 16), 10)
    monkeypatch.setattr(resnet_tail, "BasicBlock", TorchvisionBasicBlock)
    torch.manual_seed(3)
    theirs = ResNetTail(cut, (4, 8, 16), 10)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)  # the same names, in the same order
    for name in a:
        assert torch.equal(a[name], b[name]), name  # the same initial values from the same seed
    x = torch.randn(5, 64 if cut == "layer1" else 128, 8, 8)
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_basic_block_without_downsample_matches_torchvision():
    torch.manual_seed(0)
    ours = BasicBlock(8, 8)
    torch.manual_seed(0)
    theirs = TorchvisionBasicBlock(8, 8)
    x = torch.randn(3, 8, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
