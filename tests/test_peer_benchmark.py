"""The peer benchmark's adapter to the authors' code (benchmarks/peers/authors_presto.py): the run-time
patch of their presto.py and the parsing of what their script prints. Their code itself is not in this
repository; these tests use a file with the lines the patch anchors on, in their layout."""
import ast
import difflib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("authors_presto", ROOT / "benchmarks" / "peers" / "authors_presto.py")
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)

# the structure of their presto.py around the anchors (commit a2e2e18), abridged
THEIR_LAYOUT = '''import torch
from myModels import LinearNN, ConvBlocks, ConvBlocks_CIFAR10
from arguments import myArgParse

args = myArgParse()
if args.dataset in ['cifar10-rotate' , 'cifar10_rotate' ]:

    REG_LAMBDA = 3e-3
    models = []

elif args.dataset in ['stl-rotate' , 'stl_rotate' ]:

    REG_LAMBDA = 3e-3
    models = []

if args.get_param_count:
    pass

for e in range(NUM_EPOCHS):
    for bi in range(NUM_BINS):
        REG1_ = REG_LAMBDA*((dataset - all_means[bi,:].unsqueeze(0))**2).sum(1)**0.5 #
        all_scores[:,bi] = all_scores[:,bi] + REG1_
'''


def test_patch_adds_one_dataset_branch_and_keeps_the_rest():
    out = peer.patch_presto(THEIR_LAYOUT, epsilon=0.006, cut="layer1", widths=(4, 8, 16))
    ast.parse(out)  # still Python
    assert "from prestorepro_peer_data import PRESTOREPRO" in out
    branch = out[out.index("elif args.dataset == 'prestorepro'"):out.index("if args.get_param_count")]
    assert "REG_LAMBDA = 0.006" in branch  # the dataset's epsilon, as their REG_LAMBDA
    assert "hidden_dim1=4, hidden_dim2=8, hidden_dim3=16" in branch and "ConvBlocks(" in branch
    assert "LinearNN(input_dim = NUM_BINS*trainset.num_classes" in branch
    # the branch follows their last one, in the same if/elif chain
    assert out.index("elif args.dataset in ['stl-rotate'") < out.index("elif args.dataset == 'prestorepro'")
    # nothing else changes: the diff only adds lines
    diff = list(difflib.ndiff(THEIR_LAYOUT.splitlines(), out.splitlines()))
    assert not [d for d in diff if d.startswith("- ")] and len([d for d in diff if d.startswith("+ ")]) > 10
    assert "all_scores[:,bi] = all_scores[:,bi] + REG1_" in out


def test_patch_for_a_layer2_cut_and_the_flipped_sign():
    out = peer.patch_presto(THEIR_LAYOUT, epsilon=0.003, cut="layer2", widths=(4, 8, 16), flip_sign=True)
    ast.parse(out)
    assert "ConvBlocks_CIFAR10(input_dim=trainset.num_features, hidden_dim1=8, hidden_dim2=16" in out
    assert "all_scores[:,bi] = -all_scores[:,bi] + REG1_" in out
    assert "all_scores[:,bi] = all_scores[:,bi] + REG1_" not in out


def test_patch_refuses_another_version_of_their_code():
    with pytest.raises(ValueError, match="all_scores.*exactly once.*a2e2e18"):
        peer.patch_presto(THEIR_LAYOUT.replace("all_scores[:,bi] = all_scores[:,bi] + REG1_", "pass"),
                          epsilon=0.003, cut="layer1", widths=(4, 8, 16))
    with pytest.raises(ValueError, match="no model of the authors' code"):
        peer.model_expression("layer3", (4, 8, 16))


# what their script prints for two rounds (their print calls, numpy's layout of a 3 x 3 matrix)
THEIR_LOG = """Device: cpu
Bin counts :  [255. 299. 299.]
Bin transfer :  [[ 22.  74.  86.]
 [ 38.   4. 149.]
 [111.  75.   2.]]
Training Accuracy :  97.5 %
Test Accuracy :  88.02228412256268 %
Bin counts :  [213. 299. 299.]
Bin transfer :  [[ 100.  10.  0.]
 [ 0.  200.  0.]
 [ 0.  0. 250.]]
Training Accuracy :  98.0 %
Test Accuracy :  89.4150417827298 %
Best Test Accuracy :  89.4150417827298  %
Best Test Accuracy at epoch :  2
"""


def test_parse_log_reads_accuracy_part_sizes_and_who_stayed():
    got = peer.parse_log(THEIR_LOG)
    assert got["test_accuracy_per_round"] == pytest.approx([88.02228412256268, 89.4150417827298])
    assert got["final"] == pytest.approx(89.4150417827298) and got["best"] == pytest.approx(89.4150417827298)
    assert got["part_sizes_per_round"] == [[255, 299, 299], [213, 299, 299]]
    # the trace of the transfer matrix over its sum: (22 + 4 + 2) / 561 and 550 / 560
    assert got["stayed_per_round"] == pytest.approx([28 / 561, 550 / 560])
    with pytest.raises(ValueError, match="no 'Test Accuracy' line"):
        peer.parse_log("Device: cpu\nTraceback ...")
