"""Embedding shapes at both cut points for 28px and 32px inputs (SPEC §2)."""
import numpy as np
import pytest
import torch

from prestorepro.embed import build_trunk, extract_features, feature_shape


@pytest.mark.parametrize("hw,cut,expected", [
    (32, "layer1", (64, 8, 8)), (32, "layer2", (128, 4, 4)),
    (28, "layer1", (64, 7, 7)), (28, "layer2", (128, 4, 4)),
])
def test_feature_shapes(hw, cut, expected):
    assert feature_shape((hw, hw), cut) == expected
    trunk = build_trunk("none", cut, seed=0)
    imgs = np.random.default_rng(0).integers(0, 256, (5, hw, hw, 3), dtype=np.uint8)
    feats = extract_features(imgs, trunk, batch_size=2, device=torch.device("cpu"))
    assert feats.shape == (5, *expected) and feats.dtype == np.float16
    assert np.isfinite(feats).all()


def test_random_trunk_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = build_trunk("none", "layer1", seed=3)
    assert torch.equal(state, torch.get_rng_state())
    b = build_trunk("none", "layer1", seed=3)
    c = build_trunk("none", "layer1", seed=4)
    wa, wb, wc = (m[0].weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_batching_does_not_change_features():
    trunk = build_trunk("none", "layer1", seed=0)
    imgs = np.random.default_rng(1).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    one = extract_features(imgs, trunk, batch_size=7, device=torch.device("cpu"))
    many = extract_features(imgs, trunk, batch_size=3, device=torch.device("cpu"))
    np.testing.assert_allclose(one.astype(np.float32), many.astype(np.float32), atol=2e-3)


def test_imagenet_weights_unavailable_is_a_clear_error(monkeypatch, tmp_path):
    import prestorepro.embed as embed

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(embed.WeightsUnavailableError, match="embedding.weights: none"):
        build_trunk("imagenet", "layer1")


def test_bad_images_rejected():
    trunk = build_trunk("none", "layer1")
    with pytest.raises(ValueError, match="uint8"):
        extract_features(np.zeros((2, 32, 32, 3), np.float32), trunk, batch_size=2, device=torch.device("cpu"))
