"""The word2vec update arithmetic against a plain per-pair float64 reference.

test_train's golden loss is recorded from the implementation itself; here one block's update of
the real jitted train step is recomputed by hand, pair by pair, in numpy: the dynamic window and
document boundaries from the token positions, log-sigmoid gradients per (centre, context) and per
(centre, negative) pair, the shared negatives weighted negatives/shared_negatives per pair,
CBOW's mean of contexts with the full error to every context word (word2vec.c, gensim
cbow_mean=1), all from one stale snapshot of both tables and summed per row, with plain SGD at
the schedule's learning rate; with train.reject_target_negatives a pair skips every negative
equal to its positive word, as word2vec.c does. Only the random bits (each centre's reach and
the uniform draws of the negatives) are taken from jax.random with the step's key derivation.
The hit cap of the scatter is checked on its own against numpy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.config import Config
from research.data import windows
from research.train import word2vec_step as step_lib  # the one line to change if it is renamed

VOCAB, DIM, BATCH, WINDOW, NEGATIVES, SHARED = 30, 8, 16, 2, 3, 5
PAD = windows.PAD


def tiny_config(kind: str, chunk_size: int, reject: bool = False) -> Config:
    config = Config()
    config.train.reject_target_negatives = reject
    config.model.kind = kind
    config.model.dim = DIM
    config.data.window = WINDOW
    config.data.negatives = NEGATIVES
    config.train.batch_size = BATCH
    config.train.chunk_size = chunk_size
    config.train.shared_negatives = SHARED
    config.train.row_hit_cap = 0
    config.train.steps_per_dispatch = 1
    config.train.parallel_blocks = 1
    # A large rate makes the updates large against float32 rounding, so that a wrong weight or
    # a missing term shows far above the tolerance.
    config.train.learning_rate = 0.5
    config.train.seed = 3
    return config


def blocks() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two blocks of BATCH + 2·WINDOW tokens, as windows.BlockStream makes them: PAD (doc -1) in
    the halo at an epoch's ends, document boundaries inside, and repeated words."""
    rng = np.random.default_rng(7)
    size = BATCH + 2 * WINDOW
    # Block 1: the epoch's first block (PAD halo on the left), documents 0 | 1 at position 9.
    ids1 = rng.integers(0, 12, size).astype(np.int32)
    docs1 = np.where(np.arange(size) < 9, 0, 1).astype(np.int32)
    ids1[:WINDOW], docs1[:WINDOW] = PAD, -1
    # Block 2: the epoch's last block (PAD on the right), documents 4 | 5 | 6 with a
    # one-word document in the middle.
    ids2 = rng.integers(0, 12, size).astype(np.int32)
    docs2 = np.select([np.arange(size) < 7, np.arange(size) == 7], [4, 5], 6).astype(np.int32)
    ids2[-1], docs2[-1] = PAD, -1
    return [(ids1, docs1), (ids2, docs2)]


def noise() -> np.ndarray:
    """A skewed noise distribution, so negatives repeat within and across chunks and collide
    with centre and context words."""
    weights = 1.0 / np.arange(1, VOCAB + 1) ** 1.5
    return weights / weights.sum()


def random_bits(config: Config, key: jax.Array, step: int):
    """The step's random draws, by its key derivation: fold_in(key, step), split into the
    window key and the negatives key. Returns each centre's reach (B,) and the negative ids of
    each chunk (G, n), the latter by inverting the float32 cumulative noise as the step does."""
    window_key, negative_key = jax.random.split(jax.random.fold_in(key, step))
    chunks = BATCH // config.train.chunk_size
    reach = jax.random.randint(window_key, (chunks, config.train.chunk_size), 1, WINDOW + 1)
    cdf = np.cumsum(noise()).astype(np.float32)
    uniform = np.asarray(jax.random.uniform(negative_key, (chunks, SHARED), jnp.float32))
    negative_ids = np.minimum(np.searchsorted(cdf, uniform, side="right"), VOCAB - 1)
    return np.asarray(reach).reshape(-1), negative_ids


def pairs_of(ids: np.ndarray, docs: np.ndarray, reach: np.ndarray):
    """Every (centre position, context position) pair of the block: within the centre's drawn
    reach, not PAD, same document."""
    for b in range(BATCH):
        p = WINDOW + b
        for q in range(p - reach[b], p + reach[b] + 1):
            if q != p and ids[q] != PAD and docs[q] == docs[p]:
                yield b, p, q


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def reference_update(kind, config, table_in, table_out, ids, docs, key, step, lr):
    """One block's row updates (dense (V, D) float64 for each table) and the set of rows each
    table's update touches, computed pair by pair from the snapshot (table_in, table_out)."""
    u, v = table_in.astype(np.float64), table_out.astype(np.float64)
    reach, negative_ids = random_bits(config, key, step)
    weight = NEGATIVES / SHARED  # each positive pair's share of each shared negative
    reject = config.train.reject_target_negatives
    d_in, d_out = np.zeros_like(u), np.zeros_like(v)
    touched_in, touched_out = set(), set()
    contexts = {b: [] for b in range(BATCH)}
    for b, _, q in pairs_of(ids, docs, reach):
        contexts[b].append(q)
    for b in range(BATCH):
        p = WINDOW + b
        centre = ids[p]
        chunk_negatives = negative_ids[b // config.train.chunk_size]
        if not contexts[b]:
            continue
        if kind == "skipgram":
            for q in contexts[b]:
                context = ids[q]
                # positive pair: loss -log σ(u·v), d/dx = σ(x) - 1
                g = sigmoid(u[centre] @ v[context]) - 1.0
                d_in[centre] += g * v[context]
                d_out[context] += g * u[centre]
                touched_in.add(centre)
                touched_out.add(context)
                # this pair's negatives: loss -w log σ(-u·v_n), d/dx = w σ(x)
                for n in chunk_negatives:
                    if reject and n == context:
                        continue
                    g = weight * sigmoid(u[centre] @ v[n])
                    d_in[centre] += g * v[n]
                    d_out[n] += g * u[centre]
                    touched_out.add(n)
        else:
            context_words = [ids[q] for q in contexts[b]]
            hidden = np.mean([u[c] for c in context_words], axis=0)
            g = sigmoid(hidden @ v[centre]) - 1.0
            d_hidden = g * v[centre]
            d_out[centre] += g * hidden
            touched_out.add(centre)
            for n in chunk_negatives:
                if reject and n == centre:
                    continue
                g = weight * sigmoid(hidden @ v[n])
                d_hidden += g * v[n]
                d_out[n] += g * hidden
                touched_out.add(n)
            for c in context_words:  # the full error, not 1/count of it (cbow_mean=1)
                d_in[c] += d_hidden
                touched_in.add(c)
    return -lr * d_in, -lr * d_out, touched_in, touched_out


def tables(state) -> tuple[np.ndarray, np.ndarray]:
    params = state["params"]
    return np.array(params["input_embeddings"][...]), np.array(params["output_embeddings"][...])


def assert_rows_match(name, new, old, expected_update, touched, tol=1e-5) -> float:
    """Touched rows moved by the reference update; all other rows are bit-identical."""
    untouched = np.setdiff1d(np.arange(VOCAB), sorted(touched))
    np.testing.assert_array_equal(new[untouched], old[untouched], err_msg=f"{name}: untouched")
    assert not np.any(expected_update[untouched]), name
    rows = np.array(sorted(touched))
    moved = new[rows].astype(np.float64) - old[rows]
    diff = float(np.max(np.abs(moved - expected_update[rows])))
    assert diff < tol, f"{name}: max |update - reference| = {diff:.3g}"
    # The check has teeth: the updates are far larger than the tolerance.
    assert np.max(np.abs(expected_update[rows])) > 1000 * tol, name
    return diff


@pytest.mark.parametrize("reject", [False, True])
@pytest.mark.parametrize("chunk_size", [4, 8])
@pytest.mark.parametrize("kind", ["skipgram", "cbow"])
def test_block_update_matches_per_pair_reference(kind, chunk_size, reject):
    config = tiny_config(kind, chunk_size, reject)
    total_steps = 10
    tx, schedule = step_lib.make_optimizer(config, total_steps)
    graphdef, state = step_lib.init_state(config, VOCAB, tx)
    # Both tables random and of order one (output rows start at zero in training), so every
    # sigmoid is away from 1/2 and every term of the gradient counts.
    rng = np.random.default_rng(11)
    state["params"]["input_embeddings"][...] = jnp.asarray(
        rng.normal(0.0, 0.5, (VOCAB, DIM)), jnp.float32
    )
    state["params"]["output_embeddings"][...] = jnp.asarray(
        rng.normal(0.0, 0.5, (VOCAB, DIM)), jnp.float32
    )
    key = np.asarray(state["key"])
    step = step_lib.make_train_step(config, graphdef, tx, schedule, noise())

    rejection_effect = 0.0
    for index, (ids, docs) in enumerate(blocks()):  # steps 0 and 1: the key is folded per step
        assert int(state["step"]) == index
        old_in, old_out = tables(state)  # the state is donated: copy first
        lr = float(schedule(index))
        d_in, d_out, touched_in, touched_out = reference_update(
            kind, config, old_in, old_out, ids, docs, jnp.asarray(key), index, lr
        )
        if reject:  # how much rejecting changes this block's reference update
            keep_all = reference_update(
                kind,
                tiny_config(kind, chunk_size),
                old_in,
                old_out,
                ids,
                docs,
                jnp.asarray(key),
                index,
                lr,
            )
            rejection_effect = max(rejection_effect, float(np.max(np.abs(keep_all[1] - d_out))))
        state, metrics = step(state, ids[None], docs[None])
        new_in, new_out = tables(state)
        diff_in = assert_rows_match("input", new_in, old_in, d_in, touched_in)
        diff_out = assert_rows_match("output", new_out, old_out, d_out, touched_out)
        reach, _ = random_bits(config, jnp.asarray(key), index)
        pairs = len(list(pairs_of(ids, docs, reach)))
        expected_pairs = (
            pairs if kind == "skipgram" else len({b for b, _, _ in pairs_of(ids, docs, reach)})
        )
        assert int(metrics["pairs"]) == expected_pairs
        print(
            f"{kind} chunk={chunk_size} step={index}: max diff in {diff_in:.2e} out {diff_out:.2e}"
        )
    # The data draws negatives equal to positive words, so rejecting them is checked with teeth.
    assert not reject or rejection_effect > 1e-3


def scatter_reference(table, ids, updates, cap):
    out = table.astype(np.float64).copy()
    hits = np.bincount(ids, minlength=table.shape[0])
    for i, row in enumerate(ids):
        scale = min(1.0, cap / hits[row]) if cap > 0 else 1.0
        out[row] += scale * updates[i]
    return out


@pytest.mark.parametrize("cap", [0, -1, 2, 3, 7])
def test_scatter_row_updates_hit_cap(cap):
    rng = np.random.default_rng(5)
    table = rng.normal(size=(10, 4)).astype(np.float32)
    # row 1 hit 7 times, row 4 three times, row 6 twice, row 9 once; the rest never.
    ids = np.array([1, 4, 1, 6, 1, 9, 4, 1, 1, 6, 1, 4, 1], np.int32)
    updates = rng.normal(size=(len(ids), 4)).astype(np.float32)
    got = np.asarray(
        step_lib.scatter_row_updates(
            jnp.asarray(table), jnp.asarray(ids), jnp.asarray(updates), cap
        )
    )
    expected = scatter_reference(table, ids, updates, cap)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # spelled out for row 1 (7 hits): the plain sum when off or cap >= 7, else sum * cap / 7
    row_sum = updates[ids == 1].astype(np.float64).sum(0)
    scale = cap / 7 if 0 < cap < 7 else 1.0
    np.testing.assert_allclose(got[1], table[1] + scale * row_sum, rtol=0, atol=1e-5)
    untouched = [0, 2, 3, 5, 7, 8]
    np.testing.assert_array_equal(got[untouched], table[untouched])
