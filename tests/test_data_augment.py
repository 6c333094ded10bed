"""Coordinate augmentations: Haar-uniform rotations, scale, jitter, and their seeded composition."""

from __future__ import annotations

import pytest
import torch

from geodesic_nets.data import Augment, jitter, random_rotation, random_rotation_matrix, random_scale


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_rotation_matrices_are_rotations_and_haar_distributed():
    g = _gen(0)
    rs = torch.stack([random_rotation_matrix(g) for _ in range(4000)])  # (N, 3, 3) float64
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(rs @ rs.transpose(1, 2), eye.expand_as(rs), atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rs), torch.ones(len(rs), dtype=torch.float64))
    # Haar measure on SO(3): E[R] = 0 and E[tr(R)^2] = 1 (the 3-d representation is irreducible).
    assert rs.mean(0).abs().max().item() < 0.05
    tr = rs.diagonal(dim1=1, dim2=2).sum(-1)
    assert (tr**2).mean().item() == pytest.approx(1.0, abs=0.1)
    # A naive sampler (uniform Euler angles) fails the second-moment test: the check has teeth.
    a, b, c = (torch.rand(4000, generator=g, dtype=torch.float64) * 2 * torch.pi for _ in range(3))
    naive_tr = torch.cos(b) + (1 + torch.cos(b)) * torch.cos(a + c)  # trace of Rz(a) Ry(b) Rz(c)
    assert abs((naive_tr**2).mean().item() - 1.0) > 0.2


def test_axis_rotation_keeps_that_axis():
    for axis, k in (("x", 0), ("y", 1), ("z", 2)):
        r = random_rotation_matrix(_gen(1), axis=axis)
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = 1
        torch.testing.assert_close(r @ e, e)
        assert torch.linalg.det(r).item() == pytest.approx(1.0)
        assert not torch.allclose(r, torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="axis"):
        random_rotation_matrix(_gen(0), axis="w")


def test_rotation_scale_jitter_on_coordinates():
    v = torch.randn(50, 3, generator=_gen(2), dtype=torch.float64)
    r = random_rotation(v, _gen(3))
    torch.testing.assert_close(torch.cdist(r, r), torch.cdist(v, v))
    torch.testing.assert_close(r, v @ random_rotation_matrix(_gen(3)).T)
    assert random_rotation(v.float(), _gen(3)).dtype == torch.float32

    s = random_scale(v, _gen(4), low=2.0, high=3.0)
    ratio = s / v
    assert 2.0 <= ratio[0, 0].item() <= 3.0
    torch.testing.assert_close(ratio, ratio[0, 0].expand_as(ratio))

    big = torch.zeros(20000, 3)
    j = jitter(big, _gen(5), sigma=0.01, clip=1.0)
    assert j.std().item() == pytest.approx(0.01, rel=0.05)
    assert jitter(big, _gen(5), sigma=0.01, clip=0.005).abs().max().item() <= 0.005
    with pytest.raises(ValueError, match="shape \\(V, 3\\)"):
        jitter(torch.zeros(4, 2), _gen(0))
    with pytest.raises(ValueError, match="low <= high"):
        random_scale(v, _gen(0), low=1.2, high=1.1)


def test_augment_is_deterministic_given_the_generator():
    v = torch.randn(30, 3, generator=_gen(6))
    aug = Augment(rotate="so3", scale=(0.8, 1.2), jitter_sigma=0.01)
    a1, a2 = aug(v, _gen(7)), aug(v, _gen(7))
    assert torch.equal(a1, a2) and not torch.equal(a1, aug(v, _gen(8)))
    # The composition is rotation, then scale, then jitter, drawing from one generator in turn.
    g = _gen(7)
    manual = jitter(random_scale(random_rotation(v, g), g, low=0.8, high=1.2), g, sigma=0.01, clip=0.02)
    assert torch.equal(a1, manual)
    torch.manual_seed(11)
    b1 = aug(v)
    torch.manual_seed(11)
    assert torch.equal(b1, aug(v))  # the global generator when none is given
    assert torch.equal(Augment(rotate="none", scale=None)(v, _gen(0)), v)
    with pytest.raises(ValueError, match="rotate"):
        Augment(rotate="yes")
    with pytest.raises(ValueError, match="scale"):
        Augment(scale=(1.0,))
