import pytest
import torch

from ecgemotion.baselines.transformations import (DEFAULTS, TRANSFORMS, add_noise, apply_transform,
                                                  hflip, make_transformation_batch, negate, permute,
                                                  scale, time_warp, transformation_loss)


@pytest.fixture
def x():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 1, 1280, generator=g)


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_shapes_and_dtype(x, name):
    y = apply_transform(name, x, gen())
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()


def test_simple_transformations(x):
    assert torch.equal(negate(x), -x)
    assert torch.equal(hflip(x)[..., 0], x[..., -1]) and torch.equal(hflip(hflip(x)), x)
    assert torch.allclose(scale(x), x * DEFAULTS["scale_factor"])


def test_noise_has_the_requested_snr():
    x = torch.sin(torch.linspace(0, 200, 20000)).expand(4, 1, 20000).contiguous()
    noise = add_noise(x, 15.0, gen()) - x
    snr = 10 * torch.log10(x.pow(2).mean() / noise.pow(2).mean())
    assert abs(float(snr) - 15.0) < 0.3
    assert torch.equal(add_noise(x, 15.0, gen(3)), add_noise(x, 15.0, gen(3)))  # reproducible


def test_permutation_preserves_samples_and_moves_segments(x):
    p = permute(x, 20, gen())
    assert torch.equal(p.sort(-1).values, x.sort(-1).values)
    assert not torch.equal(p, x)
    # segments stay contiguous: each 64-sample block of the output is a block of the input
    blocks = x.reshape(5, 20, 64)
    for b in range(5):
        out = p[b, 0].reshape(20, 64)
        for seg in out:
            assert any(torch.equal(seg, blk) for blk in blocks[b])
    odd = torch.arange(103.0).expand(2, 1, 103).contiguous()
    assert torch.equal(permute(odd, 7, gen()).sort(-1).values, odd)


def test_time_warp_keeps_length_order_and_identity(x):
    assert torch.allclose(time_warp(x, 9, 1.0, 1.0, gen()), x, atol=1e-6)
    ramp = torch.linspace(0, 1, 1280).expand(3, 1, 1280).contiguous()
    w = time_warp(ramp, generator=gen())
    assert w.shape == ramp.shape
    assert (w.diff(dim=-1) >= -1e-6).all()                # monotone input stays monotone
    assert not torch.allclose(w, ramp)
    squeezed = time_warp(ramp, 9, 0.9, 0.9, gen())          # shorter than T: last value repeats
    assert squeezed.shape == ramp.shape and torch.isfinite(squeezed).all()


def test_transformation_batch_labels_and_loss(x):
    xa, target = make_transformation_batch(x, gen())
    assert xa.shape == (35, 1, 1280) and target.shape == (35,)
    assert torch.equal(target.bincount(), torch.full((7,), 5))
    orig = xa[target == 0]
    assert all(any(torch.equal(o, xi) for xi in x) for o in orig)
    neg = xa[target == TRANSFORMS.index("negate")]
    assert all(any(torch.equal(n, -xi) for xi in x) for n in neg)
    xa6, t6 = make_transformation_batch(x, gen(), include_original=False, shuffle=False)
    assert xa6.shape[0] == 30 and int(t6.max()) == 5 and torch.equal(xa6[:5], add_noise(x, generator=gen()))
    logits = torch.zeros(35, 7, requires_grad=True)
    loss = transformation_loss(logits, target)
    loss.backward()
    assert loss.item() == pytest.approx(sum((0.195, 0.195, 0.195, 0.0125, 0.0125, 0.195, 0.195))
                                        * float(torch.log(torch.tensor(2.0))), rel=1e-5)
    assert transformation_loss(logits, target, multitask=False).item() == pytest.approx(
        float(torch.log(torch.tensor(7.0))), rel=1e-5)
