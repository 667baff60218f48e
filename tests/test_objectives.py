"""Negative-sampling losses against hand-computed values and a per-pair reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.objectives import negative_sampling as ns


def log_sigmoid(x):
    return -np.log1p(np.exp(-x))


def test_skipgram_loss_by_hand():
    centre = jnp.array([[[1.0, 0.0]]])  # G=1, c=1, D=2
    context = jnp.array([[[0.5, 0.0], [9.0, 9.0], [0.0, 1.0]]])  # window 1: slots -1, 0, +1
    negative = jnp.array([[[1.0, 1.0], [-1.0, 0.0]]])  # n = 2 shared negatives
    mask = jnp.array([[[True, False, True]]])  # slot 0 is the centre itself
    loss, pairs = ns.skipgram_loss(centre, context, negative, mask, negatives_per_pair=2)
    # 2 pairs; each pair has K=2 negatives, spread over the n=2 shared rows: weight 2*2/2 = 2.
    expected = -(log_sigmoid(0.5) + log_sigmoid(0.0)) - 2 * (log_sigmoid(-1.0) + log_sigmoid(1.0))
    assert float(pairs) == 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_cbow_loss_by_hand():
    context = jnp.array([[[2.0, 0.0], [9.0, 9.0], [0.0, 4.0]]])
    mask = jnp.array([[[True, False, True]]])
    hidden, counts = ns.cbow_hidden(context, mask)
    np.testing.assert_allclose(hidden, [[[1.0, 2.0]]])
    centre_out = jnp.array([[[0.5, 0.25]]])  # score 1.0
    negative = jnp.array([[[1.0, 0.0], [0.0, -1.0]]])  # scores 1.0, -2.0
    loss, predicted = ns.cbow_loss(hidden, centre_out, negative, counts, negatives_per_pair=4)
    expected = -log_sigmoid(1.0) - 2 * (log_sigmoid(-1.0) + log_sigmoid(2.0))
    assert float(predicted) == 1
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_cbow_centre_without_context_is_not_predicted():
    context = jnp.ones((1, 3, 2))
    mask = jnp.zeros((1, 1, 3), bool)
    hidden, counts = ns.cbow_hidden(context, mask)
    loss, predicted = ns.cbow_loss(hidden, jnp.ones((1, 1, 2)), jnp.ones((1, 2, 2)), counts, 5)
    assert float(loss) == 0 and float(predicted) == 0


def test_skipgram_block_loss_equals_per_pair_reference():
    rng = np.random.default_rng(0)
    G, c, w, n, D, K = 3, 4, 2, 6, 5, 5
    centre = rng.normal(size=(G, c, D)).astype(np.float32)
    context = rng.normal(size=(G, c + 2 * w, D)).astype(np.float32)
    negative = rng.normal(size=(G, n, D)).astype(np.float32)
    mask = rng.random((G, c, c + 2 * w)) < 0.5
    loss, pairs = ns.skipgram_loss(centre, context, negative, mask, K)
    reference = 0.0
    for g in range(G):
        for i in range(c):
            for k in range(c + 2 * w):
                if not mask[g, i, k]:
                    continue
                reference -= log_sigmoid(centre[g, i] @ context[g, k])
                # K negatives per pair, in expectation uniform over the n shared rows.
                reference -= K / n * sum(log_sigmoid(-centre[g, i] @ v) for v in negative[g])
    assert float(pairs) == mask.sum()
    assert float(loss) == pytest.approx(reference, rel=1e-5)


def test_block_layout_offsets():
    layout = ns.BlockLayout.build(batch_size=8, chunk_size=4, window=2)
    np.testing.assert_array_equal(layout.centre_positions, [[2, 3, 4, 5], [6, 7, 8, 9]])
    np.testing.assert_array_equal(layout.context_positions[1], np.arange(4, 12))
    # Centre i of a chunk sits at context slot i + window.
    np.testing.assert_array_equal(layout.offsets[0], np.arange(8) - 2)
    np.testing.assert_array_equal(layout.offsets[3], np.arange(8) - 5)
    with pytest.raises(ValueError):
        ns.BlockLayout.build(batch_size=10, chunk_size=4, window=2)


def test_window_mask_dynamic_window_distribution():
    window, chunk = 4, 16
    layout = ns.BlockLayout.build(batch_size=chunk * 64, chunk_size=chunk, window=window)
    size = chunk * 64 + 2 * window
    ids = jnp.arange(size, dtype=jnp.int32)
    docs = jnp.zeros(size, jnp.int32)
    mask = np.asarray(ns.window_mask(jax.random.PRNGKey(0), ids, docs, layout, window))
    distance = np.broadcast_to(np.abs(layout.offsets), mask.shape)
    assert not mask[distance == 0].any()
    assert not mask[distance > window].any()
    # word2vec's reach b ~ U{1..w}: distance d is paired with probability (w - d + 1) / w.
    for d in range(1, window + 1):
        rate = mask[distance == d].mean()
        assert rate == pytest.approx((window - d + 1) / window, abs=0.03)


def test_window_mask_respects_documents_and_padding():
    window, chunk = 2, 4
    layout = ns.BlockLayout.build(batch_size=8, chunk_size=chunk, window=window)
    ids = jnp.array([-1, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], jnp.int32)
    docs = jnp.array([-1, -1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], jnp.int32)
    for seed in range(10):
        mask = np.asarray(ns.window_mask(jax.random.PRNGKey(seed), ids, docs, layout, window))
        context_ids = np.asarray(ids)[layout.context_positions]
        context_docs = np.asarray(docs)[layout.context_positions]
        centre_docs = np.asarray(docs)[layout.centre_positions]
        g, i, k = np.nonzero(mask)
        assert (context_ids[g, k] >= 0).all()
        assert (context_docs[g, k] == centre_docs[g, i]).all()


def test_negative_samples_follow_the_noise_distribution():
    from research.data.windows import noise_distribution

    counts = np.array([1000, 100, 10, 1])
    probs = noise_distribution(counts)
    np.testing.assert_allclose(probs, counts**0.75 / (counts**0.75).sum())
    cdf = jnp.asarray(np.cumsum(probs), jnp.float32)
    ids = np.asarray(ns.sample_negatives(jax.random.PRNGKey(1), cdf, (200_000,)))
    assert ids.min() >= 0 and ids.max() <= 3
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / ids.size, probs, atol=0.005)
