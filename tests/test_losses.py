import math

import pytest
import torch

from ganlib import losses

real = torch.tensor([2.0, -1.0])
fake = torch.tensor([0.5, -3.0])


def sp(x):  # softplus
    return math.log1p(math.exp(x))


def test_d_bce_by_hand():
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    want = (sp(-2) + sp(1)) / 2 + (sp(0.5) + sp(-3)) / 2
    assert losses.d_bce(real, fake).item() == pytest.approx(want, rel=1e-6)


def test_d_bce_one_sided_smoothing_by_hand():
    t = 0.9  # real target
    r_terms = [t * sp(-r) + (1 - t) * sp(r) for r in (2.0, -1.0)]
    want = sum(r_terms) / 2 + (sp(0.5) + sp(-3)) / 2
    assert losses.d_loss("ns", real, fake, label_smoothing=0.1).item() == pytest.approx(want, rel=1e-6)


def test_two_sided_smoothing_changes_fake_target():
    one = losses.d_loss("ns", real, fake, 0.1, two_sided=False)
    two = losses.d_loss("ns", real, fake, 0.1, two_sided=True)
    want_fake = sum(0.1 * sp(-f) + 0.9 * sp(f) for f in (0.5, -3.0)) / 2
    assert (two - one).item() == pytest.approx(want_fake - (sp(0.5) + sp(-3)) / 2, rel=1e-5)


def test_generator_losses_by_hand():
    assert losses.g_nonsaturating(fake).item() == pytest.approx((sp(-0.5) + sp(3)) / 2, rel=1e-6)
    assert losses.g_minimax(fake).item() == pytest.approx(-(sp(0.5) + sp(-3)) / 2, rel=1e-6)
    assert losses.g_lsgan(fake).item() == pytest.approx(0.5 * ((0.5 - 1) ** 2 + (-3 - 1) ** 2) / 2)
    assert losses.g_wgan(fake).item() == pytest.approx(1.25)
    assert losses.g_hinge(fake).item() == pytest.approx(1.25)


def test_d_lsgan_wgan_hinge_by_hand():
    assert losses.d_lsgan(real, fake).item() == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert losses.d_wgan(real, fake).item() == pytest.approx(-1.25 - 0.5)
    # hinge: relu(1 - r) = [0, 2]; relu(1 + f) = [1.5, 0]
    assert losses.d_hinge(real, fake).item() == pytest.approx(1.0 + 0.75)


def test_minimax_saturates_and_nonsaturating_does_not():
    f = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects the fake
    losses.g_minimax(f).backward()
    g_mm = f.grad.abs().item()
    f.grad = None
    losses.g_nonsaturating(f).backward()
    assert g_mm < 1e-3 < f.grad.abs().item()


def test_gradient_penalty_of_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ||grad|| = 5 everywhere -> penalty (5 - 1)^2 = 16

    def critic(x):
        return x @ w

    r, f = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(critic, r, f).item() == pytest.approx(16.0)
    w.data = torch.tensor([0.6, 0.8])  # unit gradient -> no penalty
    assert losses.gradient_penalty(critic, r, f).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_passes_labels_and_is_differentiable():
    lin = torch.nn.Linear(4, 1)

    def critic(x, y):
        return lin(x).squeeze(1) + y.float()

    gp = losses.gradient_penalty(critic, torch.randn(5, 4), torch.randn(5, 4), torch.arange(5))
    gp.backward()
    assert lin.weight.grad is not None


def test_unknown_loss():
    with pytest.raises(ValueError):
        losses.d_loss("nope", real, fake)
    with pytest.raises(ValueError):
        losses.g_loss("nope", fake)


def test_r1_penalty_of_quadratic_critic_by_hand():
    # D(x) = sum(x^2) per sample: grad = 2x, so ||grad||^2 = 4 * sum(x^2); mean over the batch
    x = torch.tensor([[1.0, 2.0], [0.0, -3.0]], requires_grad=True)
    penalty = losses.r1_penalty(x, (x ** 2).sum(1))
    assert penalty.item() == pytest.approx((4 * 5 + 4 * 9) / 2)
    penalty.backward()  # differentiable (create_graph): d/dx of 2 * sum(x^2) = 4x
    assert torch.allclose(x.grad, 4 * x.detach())
