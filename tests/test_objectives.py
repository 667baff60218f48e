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
    block = jnp.array([[0.5, 0.0], [9.0, 9.0], [0.0, 1.0]])  # window 1: the centre sits at 1
    negative = jnp.array([[[1.0, 1.0], [-1.0, 0.0]]])  # n = 2 shared negatives
    mask = jnp.array([[True, True]])  # offsets -1 and +1
    loss, pairs = ns.skipgram_loss(centre, block, negative, mask, negatives_per_pair=2)
    # 2 pairs; each pair has K=2 negatives, spread over the n=2 shared rows: weight 2*2/2 = 2.
    expected = -(log_sigmoid(0.5) + log_sigmoid(0.0)) - 2 * (log_sigmoid(-1.0) + log_sigmoid(1.0))
    assert float(pairs) == 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_cbow_loss_by_hand():
    block = jnp.array([[2.0, 0.0], [9.0, 9.0], [0.0, 4.0]])  # B=1, window 1: the centre is 9, 9
    mask = jnp.array([[True, True]])  # offsets -1 and +1
    hidden, counts = ns.cbow_hidden(block, mask)
    np.testing.assert_allclose(hidden, [[1.0, 2.0]])
    hidden, counts = hidden[None], counts[None]  # one chunk of one centre
    centre_out = jnp.array([[[0.5, 0.25]]])  # score 1.0
    negative = jnp.array([[[1.0, 0.0], [0.0, -1.0]]])  # scores 1.0, -2.0
    loss, predicted = ns.cbow_loss(hidden, centre_out, negative, counts, negatives_per_pair=4)
    expected = -log_sigmoid(1.0) - 2 * (log_sigmoid(-1.0) + log_sigmoid(2.0))
    assert float(predicted) == 1
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_cbow_centre_without_context_is_not_predicted():
    block = jnp.ones((3, 2))
    mask = jnp.zeros((1, 2), bool)
    hidden, counts = ns.cbow_hidden(block, mask)
    hidden, counts = hidden[None], counts[None]
    loss, predicted = ns.cbow_loss(hidden, jnp.ones((1, 1, 2)), jnp.ones((1, 2, 2)), counts, 5)
    assert float(loss) == 0 and float(predicted) == 0


def test_skipgram_block_loss_and_gradients_equal_a_per_pair_reference():
    rng = np.random.default_rng(0)
    G, c, w, n, D, K = 3, 4, 2, 6, 5, 5
    B = G * c
    centre = rng.normal(size=(G, c, D)).astype(np.float32)
    block = rng.normal(size=(B + 2 * w, D)).astype(np.float32)
    negative = rng.normal(size=(G, n, D)).astype(np.float32)
    mask = rng.random((B, 2 * w)) < 0.5
    offsets = ns.neighbour_offsets(w)

    def reference(centre, block, negative):
        total = 0.0
        for b in range(B):
            g, i = divmod(b, c)
            for k, o in enumerate(offsets):
                if not mask[b, k]:
                    continue
                total -= jax.nn.log_sigmoid(centre[g, i] @ block[w + b + o])
                # K negatives per pair, in expectation uniform over the n shared rows.
                total -= K / n * sum(jax.nn.log_sigmoid(-centre[g, i] @ v) for v in negative[g])
        return total

    (loss, pairs), grads = jax.value_and_grad(ns.skipgram_loss, (0, 1, 2), has_aux=True)(
        centre, block, negative, mask, K
    )
    expected, expected_grads = jax.value_and_grad(reference, (0, 1, 2))(centre, block, negative)
    assert float(pairs) == mask.sum()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    for got, want in zip(grads, expected_grads, strict=True):  # neighbour_dots' own gradient
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_block_layout_centres():
    layout = ns.BlockLayout.build(batch_size=8, chunk_size=4, window=2)
    np.testing.assert_array_equal(layout.centre_positions, [[2, 3, 4, 5], [6, 7, 8, 9]])
    with pytest.raises(ValueError):
        ns.BlockLayout.build(batch_size=10, chunk_size=4, window=2)


def test_offset_mask_dynamic_window_distribution():
    window, chunk = 4, 16
    size = chunk * 64 + 2 * window
    ids = jnp.arange(size, dtype=jnp.int32)
    docs = jnp.zeros(size, jnp.int32)
    mask = np.asarray(ns.offset_mask(jax.random.PRNGKey(0), ids, docs, (64, chunk), window))
    offsets = ns.neighbour_offsets(window)
    # The columns are the offsets -w..-1, 1..w: a centre is never its own pair (distance 0) and
    # nothing beyond the window has a column to be paired in.
    np.testing.assert_array_equal(offsets, [-4, -3, -2, -1, 1, 2, 3, 4])
    distance = np.broadcast_to(np.abs(offsets), mask.shape)
    # word2vec's reach b ~ U{1..w}: distance d is paired with probability (w - d + 1) / w.
    for d in range(1, window + 1):
        rate = mask[distance == d].mean()
        assert rate == pytest.approx((window - d + 1) / window, abs=0.03)
    # The reach is one draw per centre: a centre paired at distance d is paired at every nearer one.
    for d in range(2, window + 1):
        assert (mask[distance == d] <= mask[distance == d - 1]).all()


def test_offset_mask_respects_documents_and_padding():
    window, chunk = 2, 4
    ids = np.array([-1, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], np.int32)
    docs = np.array([-1, -1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], np.int32)
    offsets = ns.neighbour_offsets(window)
    for seed in range(10):
        mask = np.asarray(
            ns.offset_mask(
                jax.random.PRNGKey(seed), jnp.asarray(ids), jnp.asarray(docs), (2, chunk), window
            )
        )
        b, k = np.nonzero(mask)
        context = window + b + offsets[k]
        assert (ids[context] >= 0).all()
        assert (docs[context] == docs[window + b]).all()
    assert mask.any()


def test_negative_clashes_count_the_pairs_whose_word_is_the_negative():
    ids = jnp.array([7, 3, 7, 5, 7, 3], jnp.int32)  # window 1: centres at positions 1..4
    mask = jnp.array([[True, True], [True, False], [False, True], [True, True]])
    negatives = jnp.array([[7, 3], [5, 9]])  # chunk 0 (centres 0, 1), chunk 1 (centres 2, 3)
    clashes = np.asarray(ns.negative_clashes(mask, ids, negatives))
    # centre 0 (word 3) pairs with 7 and 7; centre 1 (word 7) with 3; centre 2 (word 5) with 7;
    # centre 3 (word 7) with 5 and 3.
    np.testing.assert_array_equal(clashes, [[[2, 0], [0, 1]], [[0, 0], [1, 0]]])


def test_cbow_hidden_and_spread_against_a_loop():
    rng = np.random.default_rng(1)
    batch, window, dim = 6, 2, 3
    block = rng.normal(size=(batch + 2 * window, dim)).astype(np.float32)
    mask = rng.random((batch, 2 * window)) < 0.6
    mask[0] = False  # a centre without context
    hidden, counts = ns.cbow_hidden(jnp.asarray(block), jnp.asarray(mask))
    errors = rng.normal(size=(batch, dim)).astype(np.float32)
    spread = np.asarray(ns.spread_to_neighbours(jnp.asarray(errors), jnp.asarray(mask)))
    expected_spread = np.zeros_like(block)
    offsets = ns.neighbour_offsets(window)
    for b in range(batch):
        neighbours = [window + b + o for k, o in enumerate(offsets) if mask[b, k]]
        assert counts[b] == len(neighbours)
        mean = block[neighbours].mean(0) if neighbours else np.zeros(dim)
        np.testing.assert_allclose(hidden[b], mean, rtol=1e-6, atol=1e-6)
        for p in neighbours:  # the full error to every context word (cbow_mean=1)
            expected_spread[p] += errors[b]
    np.testing.assert_allclose(spread, expected_spread, rtol=1e-6, atol=1e-6)


def test_negative_samples_follow_the_noise_distribution():
    from research.data.windows import noise_distribution

    counts = np.array([1000, 100, 10, 1])
    probs = noise_distribution(counts)
    np.testing.assert_allclose(probs, counts**0.75 / (counts**0.75).sum())
    cdf = jnp.asarray(np.cumsum(probs), jnp.float32)
    ids = np.asarray(ns.sample_negatives(jax.random.PRNGKey(1), cdf, (200_000,)))
    assert ids.min() >= 0 and ids.max() <= 3
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / ids.size, probs, atol=0.005)


@pytest.mark.parametrize("with_clashes", [False, True])
def test_skipgram_curvature_is_each_rows_hessian_along_its_step(with_clashes):
    """Δᵀ H Δ for every row occurrence against autodiff: the Hessian-vector product of the
    block loss with only that occurrence's row moved along Δ."""
    chunks, chunk, shared, dim, window = 2, 4, 3, 5, 2
    batch = chunks * chunk
    keys = jax.random.split(jax.random.PRNGKey(3), 8)
    centres = jax.random.normal(keys[0], (chunks, chunk, dim))
    block = jax.random.normal(keys[1], (batch + 2 * window, dim))
    negatives = jax.random.normal(keys[2], (chunks, shared, dim))
    mask = jax.random.bernoulli(keys[3], 0.7, (batch, 2 * window))
    steps = (
        jax.random.normal(keys[4], centres.shape),
        jax.random.normal(keys[5], block.shape),
        jax.random.normal(keys[6], negatives.shape),
    )
    clashes = (
        jax.random.bernoulli(keys[7], 0.3, (chunks, chunk, shared)).astype(jnp.float32)
        if with_clashes
        else None
    )
    curvature = ns.skipgram_curvature(centres, block, negatives, mask, 5, *steps, clashes)
    total = ns.skipgram_loss(centres, block, negatives, mask, 5, clashes)[0]

    def loss(rows):  # skipgram_loss without neighbour_dots' custom gradient (no jvp through it)
        centre, block_rows, negative = rows
        flat = centre.reshape(batch, dim)
        positive = jnp.stack(
            [
                jnp.sum(flat * block_rows[window + o : window + o + batch], axis=-1)
                for o in ns.neighbour_offsets(window)
            ],
            axis=1,
        )
        weight = ns.negative_weights(mask.astype(jnp.float32), (chunks, chunk), shared, 5, clashes)
        scores = jnp.einsum("gid,gnd->gin", centre, negative)
        reference = -jnp.sum(mask * jax.nn.log_sigmoid(positive)) - jnp.sum(
            weight * jax.nn.log_sigmoid(-scores)
        )
        return reference

    rows = (centres, block, negatives)
    assert float(loss(rows)) == pytest.approx(float(total), rel=1e-6)
    hessian_times = jax.jit(lambda tangent: jax.jvp(jax.grad(loss), (rows,), (tangent,))[1])
    steps = [np.asarray(x) for x in steps]
    for which, table in enumerate(rows):
        for index in np.ndindex(table.shape[:-1]):
            tangent = [np.zeros(r.shape, np.float32) for r in rows]
            tangent[which][index] = steps[which][index]
            hvp = np.asarray(hessian_times(tuple(tangent))[which])
            expected = float(np.sum(hvp[index] * steps[which][index]))
            assert float(curvature[which][index]) == pytest.approx(expected, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("with_clashes", [False, True])
def test_cbow_curvature_is_each_rows_hessian_along_its_step(with_clashes):
    """Δᵀ H Δ of every table row against autodiff, the row's occurrences summed: the block's
    words come from 7 rows, so a context often holds one word twice, which the curvature must
    count as one row moving its centre's mean twice as far (not as two rows)."""
    chunks, chunk, shared, dim, window, vocab = 2, 4, 3, 5, 2, 7
    batch = chunks * chunk
    keys = jax.random.split(jax.random.PRNGKey(4), 7)
    tables = (
        jax.random.normal(keys[0], (vocab, dim)),
        jax.random.normal(keys[1], (vocab, dim)),
    )
    ids = jax.random.randint(keys[2], (batch + 2 * window,), 0, vocab)
    negative_ids = jax.random.randint(keys[3], (chunks, shared), 0, vocab)
    mask = jax.random.bernoulli(keys[4], 0.7, (batch, 2 * window))
    mask = mask.at[3].set(False)  # a centre without context: no terms
    steps = (
        jax.random.normal(keys[5], (vocab, dim)),
        jax.random.normal(keys[6], (vocab, dim)),
    )
    centre_ids = ids[window : window + batch].reshape(chunks, chunk)
    clashes = (
        (centre_ids[..., None] == negative_ids[:, None, :]).astype(jnp.float32)
        if with_clashes
        else None
    )

    def loss(both):
        table_in, table_out = both
        hidden, counts = ns.cbow_hidden(table_in[ids], mask)
        return ns.cbow_loss(
            hidden.reshape(chunks, chunk, dim),
            table_out[centre_ids],
            table_out[negative_ids],
            counts.reshape(chunks, chunk),
            5,
            clashes,
        )[0]

    hidden = ns.cbow_hidden(tables[0][ids], mask)[0].reshape(chunks, chunk, dim)
    block, centres, negatives = ns.cbow_curvature(
        hidden,
        tables[1][centre_ids],
        tables[1][negative_ids],
        mask,
        ids,
        5,
        steps[0][ids],
        steps[1][centre_ids],
        steps[1][negative_ids],
        clashes,
    )
    per_row = (
        np.bincount(np.asarray(ids), np.asarray(block), vocab),
        np.bincount(np.asarray(centre_ids).ravel(), np.asarray(centres).ravel(), vocab)
        + np.bincount(np.asarray(negative_ids).ravel(), np.asarray(negatives).ravel(), vocab),
    )
    hessian_times = jax.jit(lambda tangent: jax.jvp(jax.grad(loss), (tables,), (tangent,))[1])
    for table in range(2):
        for row in range(vocab):
            tangent = [jnp.zeros((vocab, dim)), jnp.zeros((vocab, dim))]
            tangent[table] = tangent[table].at[row].set(steps[table][row])
            hvp = np.asarray(hessian_times(tuple(tangent))[table])
            expected = float(hvp[row] @ np.asarray(steps[table][row]))
            assert per_row[table][row] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    # Not vacuous: contexts hold a word twice (the case a sum over slots alone gets wrong).
    neighbours = np.stack(
        [np.asarray(ids)[window + o : window + o + batch] for o in ns.neighbour_offsets(window)], 1
    )
    repeated = sum(
        int(np.sum(np.asarray(mask[b]))) - len(set(neighbours[b][np.asarray(mask[b])].tolist()))
        for b in range(batch)
    )
    assert repeated >= 2
