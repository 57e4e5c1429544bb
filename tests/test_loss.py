import math

import pytest
import torch

from dpo.loss import LOSS_TYPES, REFERENCE_FREE, SMOOTHED, bradley_terry_loss, preference_loss

# Two examples with fixed summed log-probs and response lengths.
PC, PR, RC, RR = [-10.0, -20.0], [-12.0, -15.0], [-11.0, -19.0], [-11.0, -16.0]
NC, NR = [5, 10], [4, 5]
BETA = 0.1


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


def expected(loss_type: str, i: int, eps: float = 0.0, gamma: float = 0.5) -> tuple[float, float, float]:
    """(loss, chosen reward, rejected reward) of example i, from the papers' formulas on plain floats."""
    if loss_type in ("sigmoid", "robust", "hinge"):
        cw, cl = PC[i] - RC[i], PR[i] - RR[i]
        h = cw - cl
        loss = {"sigmoid": -(1 - eps) * logsig(BETA * h) - eps * logsig(-BETA * h),
                "robust": (-(1 - eps) * logsig(BETA * h) + eps * logsig(-BETA * h)) / (1 - 2 * eps),
                "hinge": max(0.0, 1 - BETA * h)}[loss_type]
        return loss, BETA * cw, BETA * cl
    aw, al = PC[i] / NC[i], PR[i] / NR[i]
    if loss_type == "ipo":
        cw, cl = aw - RC[i] / NC[i], al - RR[i] / NR[i]
        return (cw - cl - 1 / (2 * BETA)) ** 2, BETA * cw, BETA * cl
    if loss_type == "simpo":
        z = BETA * (aw - al) - gamma
        return -(1 - eps) * logsig(z) - eps * logsig(-z), BETA * aw, BETA * al
    odds_w, odds_l = math.exp(aw) / (1 - math.exp(aw)), math.exp(al) / (1 - math.exp(al))
    return -aw - BETA * logsig(math.log(odds_w / odds_l)), BETA * aw, BETA * al


def inputs(requires_grad: bool = False, reference: bool = True) -> dict:
    pc, pr = torch.tensor(PC, requires_grad=requires_grad), torch.tensor(PR, requires_grad=requires_grad)
    nc, nr = torch.tensor(NC, dtype=torch.float32), torch.tensor(NR, dtype=torch.float32)
    rc, rr = torch.tensor(RC), torch.tensor(RR)
    out = {"policy_chosen_logps": pc, "policy_rejected_logps": pr,
           "policy_chosen_logps_mean": pc / nc, "policy_rejected_logps_mean": pr / nr}
    if reference:
        out.update(ref_chosen_logps=rc, ref_rejected_logps=rr, ref_chosen_logps_mean=rc / nc,
                   ref_rejected_logps_mean=rr / nr)
    return out


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_each_loss_type_equals_hand_computed_value(loss_type):
    losses, cr, rr = preference_loss(**inputs(), beta=BETA, loss_type=loss_type)
    for i in range(2):
        loss, chosen_reward, rejected_reward = expected(loss_type, i)
        assert losses[i].item() == pytest.approx(loss, rel=1e-5)
        assert cr[i].item() == pytest.approx(chosen_reward, rel=1e-5)
        assert rr[i].item() == pytest.approx(rejected_reward, rel=1e-5)


@pytest.mark.parametrize("loss_type,eps", [("sigmoid", 0.1), ("robust", 0.2), ("simpo", 0.1)])
def test_label_smoothing_equals_hand_computed_value(loss_type, eps):
    losses, _, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type, label_smoothing=eps)
    for i in range(2):
        assert losses[i].item() == pytest.approx(expected(loss_type, i, eps=eps)[0], rel=1e-5)


def test_simpo_margin_gamma():
    losses, _, _ = preference_loss(**inputs(), beta=BETA, loss_type="simpo", simpo_gamma=1.5)
    assert losses[0].item() == pytest.approx(expected("simpo", 0, gamma=1.5)[0], rel=1e-5)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_sft_weight_adds_chosen_nll(loss_type):
    base, _, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type)
    with_sft, _, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type, sft_weight=0.5)
    for i in range(2):
        assert (with_sft - base)[i].item() == pytest.approx(0.5 * -PC[i] / NC[i], rel=1e-5)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_gradient_raises_chosen_and_lowers_rejected(loss_type):
    x = inputs(requires_grad=True)
    losses, cr, rr = preference_loss(**x, beta=BETA, loss_type=loss_type)
    losses.sum().backward()
    assert (x["policy_chosen_logps"].grad < 0).all(), "raising the chosen log-prob must lower the loss"
    assert (x["policy_rejected_logps"].grad > 0).all(), "raising the rejected log-prob must raise the loss"
    assert not cr.requires_grad and not rr.requires_grad


@pytest.mark.parametrize("loss_type", sorted(REFERENCE_FREE))
def test_reference_free_types_need_no_reference(loss_type):
    losses, _, _ = preference_loss(**inputs(reference=False), beta=BETA, loss_type=loss_type)
    assert losses[0].item() == pytest.approx(expected(loss_type, 0)[0], rel=1e-5)


@pytest.mark.parametrize("loss_type", sorted(set(LOSS_TYPES) - REFERENCE_FREE))
def test_reference_based_types_refuse_missing_reference(loss_type):
    with pytest.raises(ValueError, match="ref_chosen_logps"):
        preference_loss(**inputs(reference=False), beta=BETA, loss_type=loss_type)


def test_missing_means_and_bad_settings_are_named():
    x = inputs()
    del x["policy_chosen_logps_mean"]
    with pytest.raises(ValueError, match="policy_chosen_logps_mean"):
        preference_loss(**x, beta=BETA, loss_type="ipo")
    with pytest.raises(ValueError, match="loss_type"):
        preference_loss(**inputs(), beta=BETA, loss_type="kto")
    with pytest.raises(ValueError, match="label_smoothing"):
        preference_loss(**inputs(), beta=BETA, loss_type="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        preference_loss(**inputs(), beta=BETA, loss_type="ipo", label_smoothing=0.1)


def test_orpo_is_finite_near_zero_log_prob():
    x = inputs(reference=False)
    x["policy_chosen_logps_mean"] = torch.tensor([-1e-6, -1e-3], requires_grad=True)
    losses, _, _ = preference_loss(**x, beta=BETA, loss_type="orpo")
    losses.sum().backward()
    assert torch.isfinite(losses).all() and torch.isfinite(x["policy_chosen_logps_mean"].grad).all()


@pytest.mark.parametrize("loss_type", SMOOTHED)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_per_pair_confidence_is_per_pair_label_smoothing(loss_type, smoothing):
    confidence = [0.8, 0.6]
    losses, cr, rr = preference_loss(**inputs(), beta=BETA, loss_type=loss_type, label_smoothing=smoothing,
                                     confidence=torch.tensor(confidence))
    base, base_cr, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type, label_smoothing=smoothing)
    for i, c in enumerate(confidence):
        eps = smoothing + (1 - c) * (1 - 2 * smoothing)  # two independent label flips; 1 - c at smoothing 0
        assert losses[i].item() == pytest.approx(expected(loss_type, i, eps=eps)[0], rel=1e-5)
        assert losses[i].item() != pytest.approx(base[i].item(), rel=1e-3)
    assert torch.equal(cr, base_cr)  # the rewards do not depend on the labels' confidence


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_confidence_one_is_exactly_no_confidence(loss_type):
    with_ones, _, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type, confidence=torch.ones(2))
    without, _, _ = preference_loss(**inputs(), beta=BETA, loss_type=loss_type)
    assert torch.equal(with_ones, without)


@pytest.mark.parametrize("loss_type", sorted(set(LOSS_TYPES) - set(SMOOTHED)))
def test_confidence_below_one_refused_by_types_without_label_noise(loss_type):
    with pytest.raises(ValueError, match="confidence < 1 need loss"):
        preference_loss(**inputs(), beta=BETA, loss_type=loss_type, confidence=torch.tensor([1.0, 0.9]))


def test_bradley_terry_soft_target():
    margin = torch.tensor([2.0, -1.0, 0.5], requires_grad=True)
    confidence = torch.tensor([0.75, 1.0, 0.5])
    losses = bradley_terry_loss(margin, confidence)
    for i, (m, c) in enumerate(zip([2.0, -1.0, 0.5], [0.75, 1.0, 0.5])):
        assert losses[i].item() == pytest.approx(-c * logsig(m) - (1 - c) * logsig(-m), rel=1e-6)
    losses.sum().backward()
    # d/dm = sigma(m) - c: the loss is lowest where the model's P(chosen preferred) equals the raters' share
    assert margin.grad.tolist() == pytest.approx((torch.sigmoid(margin.detach()) - confidence).tolist(), abs=1e-6)
    hard = bradley_terry_loss(margin.detach())
    assert torch.equal(hard, bradley_terry_loss(margin.detach(), torch.ones(3)))
    assert hard[0].item() == pytest.approx(-logsig(2.0), rel=1e-6)
