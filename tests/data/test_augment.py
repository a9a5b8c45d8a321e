"""Image augmentation: crops are shifted windows of the padded image, flips mirror,
cutout zeroes one square; draws follow the generator."""

import pytest
import torch
import torch.nn.functional as F

from snnbench.data.augment import augment_images


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_crop_is_a_window_of_the_padded_image():
    x = torch.rand(16, 3, 8, 8) + 0.5  # no zeros inside the image
    y = augment_images(x, _gen(), crop_padding=2)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(16):
        hits = [(a, b) for a in range(5) for b in range(5)
                if torch.equal(padded[i, :, a:a + 8, b:b + 8], y[i])]
        assert len(hits) == 1
    offsets = {tuple((y[i] == 0).nonzero().tolist()[0]) if (y[i] == 0).any() else None
               for i in range(16)}
    assert len(offsets) > 1  # shifts differ between samples


def test_flip_mirrors_half_and_cutout_zeroes_a_square():
    x = torch.rand(400, 1, 6, 6) + 0.5
    y = augment_images(x, _gen(), flip=True)
    flipped = torch.tensor([torch.equal(y[i], x[i].flip(-1)) for i in range(400)])
    same = torch.tensor([torch.equal(y[i], x[i]) for i in range(400)])
    assert bool((flipped | same).all())
    assert abs(flipped.float().mean().item() - 0.5) < 0.08  # 3 sigma = 0.075
    z = augment_images(torch.ones(50, 2, 10, 10), _gen(), cutout=4)
    for i in range(50):
        hole = z[i, 0] == 0
        assert torch.equal(hole, z[i, 1] == 0)  # all channels
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert int(hole.sum()) == len(rows) * len(cols)  # a (clipped) rectangle
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4


def test_same_generator_same_batch_and_errors():
    x = torch.rand(8, 3, 8, 8)
    a = augment_images(x, _gen(3), crop_padding=2, flip=True, cutout=3)
    b = augment_images(x, _gen(3), crop_padding=2, flip=True, cutout=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, augment_images(x, _gen(4), crop_padding=2, flip=True, cutout=3))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        augment_images(torch.rand(4, 10), _gen(), flip=True)
