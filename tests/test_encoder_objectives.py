"""Encoder objectives: BERT masking statistics, hand-checked losses, InfoNCE against numpy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.objectives import weighted_sum
from research.objectives.contrastive import info_nce
from research.objectives.mlm import mask_tokens, mlm_loss
from research.objectives.next_token import next_token_loss

MASK_ID = 0


def test_mask_tokens_proportions():
    vocab = 30_000  # large, so a "random" replacement rarely equals the original token
    shape = (256, 512)  # 131k positions: the 1-2% tolerances below are > 10 standard errors
    tokens = jax.random.randint(jax.random.PRNGKey(0), shape, 1, vocab, jnp.int32)
    maskable = jax.random.bernoulli(jax.random.PRNGKey(1), 0.7, shape)
    maskable = maskable.at[:, 0].set(False)  # e.g. [CLS]
    inputs, targets, weights = mask_tokens(
        jax.random.PRNGKey(2), tokens, maskable, mask_id=MASK_ID, vocab_size=vocab
    )
    tokens, maskable = np.asarray(tokens), np.asarray(maskable)
    inputs, targets, weights = np.asarray(inputs), np.asarray(targets), np.asarray(weights)
    chosen = weights > 0
    np.testing.assert_array_equal(targets, tokens)
    assert set(np.unique(weights)) == {0.0, 1.0}
    assert not chosen[~maskable].any()  # never a non-maskable position
    np.testing.assert_array_equal(inputs[~chosen], tokens[~chosen])  # untouched elsewhere
    assert chosen.sum() / maskable.sum() == pytest.approx(0.15, abs=0.01)
    masked = (inputs == MASK_ID)[chosen].mean()
    unchanged = (inputs == tokens)[chosen].mean()
    random = 1.0 - masked - unchanged
    assert masked == pytest.approx(0.8, abs=0.02)
    assert random == pytest.approx(0.1, abs=0.02)
    assert unchanged == pytest.approx(0.1, abs=0.02)


def test_mask_tokens_depends_only_on_the_key():
    tokens = jnp.arange(1, 65, dtype=jnp.int32).reshape(4, 16)
    maskable = jnp.ones_like(tokens, bool)

    def run(seed):
        key = jax.random.PRNGKey(seed)
        return mask_tokens(key, tokens, maskable, mask_id=MASK_ID, vocab_size=100)[0]

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_mlm_loss_by_hand():
    logits = jnp.array(
        [
            [0.0, 0.0, 0.0],  # target 1: loss ln 3; argmax 0, wrong
            [math.log(2.0), 0.0, 0.0],  # target 0: p = 2/4, loss ln 2; right
            [50.0, -50.0, 0.0],  # weight 0: ignored however bad
        ]
    )
    targets = jnp.array([1, 0, 1])
    loss, accuracy = mlm_loss(logits, targets, jnp.array([1.0, 1.0, 0.0]))
    assert float(loss) == pytest.approx((math.log(3) + math.log(2)) / 2, rel=1e-6)
    assert float(accuracy) == pytest.approx(0.5)
    assert loss.dtype == jnp.float32
    # bfloat16 logits are scored in float32; no weight at all gives 0, not NaN.
    loss, accuracy = mlm_loss(logits.astype(jnp.bfloat16), targets, jnp.zeros(3))
    assert float(loss) == 0.0 and float(accuracy) == 0.0 and loss.dtype == jnp.float32


def test_next_token_loss_by_hand():
    tokens = jnp.array([[2, 1, 0, 0]])  # three real tokens, then padding
    mask = jnp.array([[True, True, True, False]])
    big = 100.0
    logits = jnp.array(
        [
            [
                [0.0, 0.0, 0.0],  # position 0 predicts token 1: loss ln 3, argmax 0 -> wrong
                [big, 0.0, 0.0],  # position 1 predicts token 0: loss ~0, right
                [0.0, big, 0.0],  # position 2's successor is padding: not scored
                [0.0, big, 0.0],  # padding: not scored
            ]
        ]
    )
    loss, accuracy = next_token_loss(logits, tokens, mask)
    assert float(loss) == pytest.approx(math.log(3) / 2, rel=1e-5)
    assert float(accuracy) == pytest.approx(0.5)


def reference_info_nce(q, k, temperature, symmetric):
    """Loop-by-loop InfoNCE in float64."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    n = len(q)

    def one_way(a, b):
        losses, hits = [], []
        for i in range(n):
            scores = np.array([a[i] @ b[j] / temperature for j in range(n)])
            log_normaliser = scores.max() + np.log(np.exp(scores - scores.max()).sum())
            losses.append(log_normaliser - scores[i])
            hits.append(scores.argmax() == i)
        return np.mean(losses), np.mean(hits)

    forward = one_way(q, k)
    if not symmetric:
        return forward
    backward = one_way(k, q)
    return (forward[0] + backward[0]) / 2, (forward[1] + backward[1]) / 2


@pytest.mark.parametrize("symmetric", [True, False])
def test_info_nce_matches_numpy_reference(symmetric):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(8, 5))
    k = q + 0.8 * rng.normal(size=(8, 5))  # related, so accuracy is neither 0 nor 1
    for temperature in (0.05, 1.0):
        loss, accuracy = info_nce(
            jnp.asarray(q, jnp.float32),
            jnp.asarray(k, jnp.float32),
            temperature,
            symmetric=symmetric,
        )
        ref_loss, ref_accuracy = reference_info_nce(q, k, temperature, symmetric)
        assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
        assert float(accuracy) == pytest.approx(ref_accuracy)


def test_info_nce_is_scale_invariant_and_perfect_on_identical_pairs():
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 16))
    loss, accuracy = info_nce(x, x, 0.01)
    assert float(accuracy) == 1.0 and float(loss) < 1e-3
    np.testing.assert_allclose(info_nce(3.0 * x, x, 0.1)[0], info_nce(x, x, 0.1)[0], rtol=1e-5)


def test_weighted_sum():
    losses = {"mlm": jnp.array(2.0), "contrastive": jnp.array(3.0, jnp.bfloat16)}
    total = weighted_sum(losses, {"mlm": 0.5, "contrastive": 2.0})
    assert float(total) == pytest.approx(7.0) and total.dtype == jnp.float32
    with pytest.raises(ValueError):
        weighted_sum(losses, {"mlm": 1.0})
    with pytest.raises(ValueError):
        weighted_sum({"mlm": jnp.array(1.0)}, {"mlm": 1.0, "next_token": 1.0})
