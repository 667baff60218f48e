"""The word2vec train state and its jitted, donated train step.

The step differentiates the block loss with respect to the *gathered rows* only and scatter-adds
the row updates into the tables: a dense gradient over a V × D table would cost O(V·D) per step
and dominate everything. Optax supplies word2vec's linearly decaying learning rate
and the SGD update; plain SGD keeps no per-parameter state, so nothing dense is stored either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from research import config as config_lib
from research import distributed
from research.config import Config
from research.errors import UserError
from research.models import Word2Vec
from research.objectives import hierarchical_softmax as hs
from research.objectives import negative_sampling as ns
from research.train import word2vec_curvature as curvature
from research.train.loop import fresh_state, step_compiler_options
from research.train.nonfinite import skip_counts, with_skipping

# {"params": nnx.State, "opt_state": optax state, "step": int32, "key": uint32[2]}
TrainState = dict[str, Any]


def learning_rate_schedule(config: Config, total_steps: int) -> optax.Schedule:
    """word2vec's schedule: linear from learning_rate down to min_learning_rate at the last step."""
    return optax.linear_schedule(
        init_value=config_lib.word2vec_learning_rate(config),
        end_value=config.train.min_learning_rate,
        transition_steps=max(total_steps - 1, 1),
    )


def default_optimizer(config: Config, schedule: optax.Schedule) -> optax.GradientTransformation:
    return optax.sgd(schedule)


def make_optimizer(
    config: Config,
    total_steps: int,
    optimizer: Callable | None = None,
    schedule: Callable | None = None,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """(tx, schedule): an experiment's `optimizer(config, schedule)` and `schedule(config,
    total_steps)`, or word2vec's SGD with its linear decay.

    The step applies `tx` to the gathered rows' gradients of each block, not to whole tables, so
    the transformation must keep no per-parameter state (SGD, a clipped or scaled SGD): a state
    shaped like one block's rows would be meaningless. That is checked here.
    """
    lr_schedule = (schedule or learning_rate_schedule)(config, total_steps)
    tx = (optimizer or default_optimizer)(config, lr_schedule)
    probe = {"rows": jax.ShapeDtypeStruct((2, 2), jnp.float32)}
    stateful = [
        leaf.shape for leaf in jax.tree.leaves(jax.eval_shape(tx.init, probe)) if leaf.ndim > 0
    ]
    if stateful:
        raise UserError(
            "the experiment's optimizer keeps per-parameter state (arrays shaped "
            f"{stateful[0]}); word2vec updates gathered rows, so use a stateless transformation "
            "such as optax.sgd"
        )
    return with_skipping(tx, config.train.skip_nonfinite), lr_schedule


def init_state(
    config: Config, vocab_size: int, tx: optax.GradientTransformation
) -> tuple[nnx.GraphDef, TrainState]:
    model = Word2Vec(
        vocab_size,
        config.model.dim,
        # hierarchical softmax: one output row per inner node of the Huffman tree
        output_rows=vocab_size - 1 if config.model.output == "hs" else None,
        dtype=jnp.dtype(config.model.table_dtype),
        rngs=nnx.Rngs(params=config.train.seed),
    )
    graphdef, params = nnx.split(model)
    state = fresh_state(params, tx, config.train.seed)
    return graphdef, state


def scatter_row_updates(
    table: jax.Array,
    ids: jax.Array,
    updates: jax.Array,
    hit_cap: float,
    hit_weights: jax.Array | None = None,
    row_scales: jax.Array | None = None,
) -> jax.Array:
    """Add row updates into `table`, shrinking the sum on rows hit more than `hit_cap` times.

    word2vec applies each pair's update in sequence, so a row hit m times takes m small steps,
    each seeing the previous ones. Summing m updates computed from one stale snapshot is one step
    m times larger, which overshoots for frequent words (with large blocks the loss diverges
    within an epoch; BENCHMARKS.md). Scaling a row's summed update by
    min(1, hit_cap / m) bounds every step; rows hit at most `hit_cap` times in a step (all but the
    most frequent words) get exactly word2vec's update. hit_cap <= 0 turns the bound off.
    `hit_weights` gives the hits each id counts for (default 1): 0 for ids that carry no update
    by construction (the padding of hierarchical-softmax paths), more than 1 for an id whose
    update stands for many pairs (a shared negative's draw: negative_hit_weight).

    `ids` holds every row update of one SGD step, so with train.parallel_blocks = P > 1 the
    cap applies to a row's hits over all P blocks together: P blocks are one step of P times
    the tokens. `row_scales` (one per table row, at most 1) bounds each row's step further
    (word2vec_curvature.step_scales); the smaller of the two scales applies.
    """
    scale = None if row_scales is None else row_scales[ids]
    if hit_cap > 0:
        weight = 1.0 if hit_weights is None else hit_weights
        hits = jnp.zeros(table.shape[0], jnp.float32).at[ids].add(weight)
        capped = jnp.minimum(1.0, hit_cap / jnp.maximum(hits[ids], 1.0))
        scale = capped if scale is None else jnp.minimum(scale, capped)
    if scale is not None:
        updates = updates * scale[:, None]
    return table.at[ids].add(updates.astype(table.dtype))


def draw_concentration(config: Config, noise_distribution: np.ndarray) -> float:
    """How many times one SGD step draws, on average, the row that a random draw lands on:
    P · draws per block · Σ q², with q the noise distribution.

    This says how far a step's shared negatives pile onto the same rows. It is small on a
    Zipfian vocabulary (0.76 on the 14.7 M-token corpus at P = 1, 6.1 at P = 8) and large where
    a few words take much of the noise mass (the synthetic world: 8.4 at P = 1, 16.8 at P = 2).
    """
    chunks_per_block = config.train.batch_size // config.train.chunk_size
    draws_per_block = chunks_per_block * config_lib.shared_negatives(config)
    q = np.asarray(noise_distribution, np.float64)
    return float(config.train.parallel_blocks * draws_per_block * np.sum(q * q))


def negative_hit_weight(config: Config, noise_distribution: np.ndarray) -> float:
    """The hits a shared negative's draw counts for under the row-hit cap (scatter_row_updates).

    A draw's update sums the gradients of every pair of its chunk, each weighing it K/S: about
    chunk·K/S times what one block token's update holds. Counted once, a step of P blocks moves
    a frequent negative up to that many times further than the cap lets a token's row move.
    For skip-gram that is stable, and scores best, while the step's draws stay spread over many
    rows: while draw_concentration is at most the cap, so that a typical drawn row stays under
    it. Beyond, the rows drawn most move together far enough to diverge, and a draw counts its
    chunk·K/S pairs instead. Measured with draws counted once (BENCHMARKS.md, "Parallel
    blocks"): the 14.7 M-token corpus is stable at 6.1 (P = 8) and diverges at 24.4 (P = 32);
    the synthetic world diverges at 16.8 (P = 2). Counted by pairs, all of them converge, but
    the 14.7 M-token corpus loses an analogy point at P = 2 and 8. The threshold is
    conservative for short runs, whose learning rate decays sooner: 3.5 M tokens at P = 32
    (30.1) were stable counted once.

    CBOW counts a draw once at every concentration: counted once it converged wherever it was
    tried (the synthetic world at P = 2, 8 and 32, concentrations 8.4 to 134; 3.5 M tokens at
    P = 32, 15.0), while its pair count (10) held P = 32 far below P = 1. Perhaps because its
    negatives score the mean of 2·window context rows, a shorter vector than skip-gram's row.

    P = 1 counts a draw once whatever the concentration: the default rate and cap were
    calibrated so, and every P = 1 figure (issue 18's, the gensim comparisons) rests on it.
    With train.curvature_bound on, a draw counts once at every P: the bound on each row's step
    along its curvature (word2vec_curvature) does the damping the pair count did.
    """
    cap = config_lib.row_hit_cap(config)
    if (
        config.model.kind == "cbow"
        or config.train.parallel_blocks == 1
        or config.train.curvature_bound > 0
        or cap <= 0
        or draw_concentration(config, noise_distribution) <= cap
    ):
        return 1.0
    return config.train.chunk_size * config.data.negatives / config_lib.shared_negatives(config)


def token_concentration(config: Config, token_distribution: np.ndarray) -> float:
    """How many times one SGD step holds, on average, the row of a random block token:
    P · batch_size · Σ p², with p the distribution of the tokens blocks hold (the unigram
    distribution after subsampling). The block tokens' counterpart of draw_concentration: 2.7
    on the 14.7 M-token corpus at P = 2, 10.8 at P = 8, 43.3 at P = 32; the synthetic world,
    whose few hundred words take its draws, 7.0 at P = 2 and 28.0 at P = 8."""
    p = np.asarray(token_distribution, np.float64)
    return float(config.train.parallel_blocks * config.train.batch_size * np.sum(p * p))


# The row-hit cap under the curvature bound that resolve_curvature_bound turns on, in multiples
# of the cap: 3 (33 for skip-gram) came closest to P = 1 on the 14.7 M-token corpus at P = 32
# (22 and 44 scored lower; BENCHMARKS.md, "Parallel blocks").
BOUND_CAP_FACTOR = 3


def resolve_curvature_bound(
    config: Config, noise_distribution: np.ndarray, token_distribution: np.ndarray
) -> tuple[Config, dict[str, float]]:
    """(config, record): the config with train.curvature_bound=-1 decided for this corpus, 1
    with the row-hit cap tripled (BOUND_CAP_FACTOR) or 0, and what run.json records of the
    decision: both concentrations, the bound and the cap. Explicit values are kept, and the
    record is empty where there was nothing to decide (an explicit value, P = 1, CBOW,
    hierarchical softmax).

    The bound replaces the pair count (negative_hit_weight) where both of a step's kinds of
    rows pile above the cap: its draws (draw_concentration) and its block tokens
    (token_concentration). There the cap throttles much of the step's token mass (46 % of it on
    rows above the cap at P = 32 on the 14.7 M-token corpus), the pair count damps the draws on
    top, and P = 32 lost 0.028 WS-353 and 1.6 analogy points; the bound, which cuts each row
    to where the loss along its step turns up, let the cap rise to 33 and came within about
    0.004 WS-353 of P = 1. Where only the draws pile up (the synthetic world at P = 2) the
    pair count damps exactly them, while the bound cut the block tokens' rows, which did not
    need it (0.85 against 0.91 similarity Spearman). The bound counts draws once, which needs
    the draws to stay under the raised cap, as under the plain cap (negative_hit_weight): the
    synthetic world at P = 8 (67) and 32 (269) diverged with it. Skip-gram with negative
    sampling at P > 1 only, and not with train.shard_tables (word2vec.validate says why).
    """
    train = config.train
    if train.curvature_bound != -1:
        return config, {}
    applies = (
        config.model.kind == "skipgram"
        and config.model.output == "negative"
        and train.parallel_blocks > 1
    )
    if not applies:
        train = dataclasses.replace(train, curvature_bound=0.0)
        return dataclasses.replace(config, train=train), {}
    cap = config_lib.row_hit_cap(config)
    raised = BOUND_CAP_FACTOR * cap
    draws = draw_concentration(config, noise_distribution)
    tokens = token_concentration(config, token_distribution)
    bound = not train.shard_tables and cap > 0 and cap < draws <= raised and tokens > cap
    if bound:
        train = dataclasses.replace(train, curvature_bound=1.0, row_hit_cap=raised)
    else:
        train = dataclasses.replace(train, curvature_bound=0.0)
    record = {
        "token_concentration": round(tokens, 3),
        "draw_concentration": round(draws, 3),
        "curvature_bound": train.curvature_bound,
        "row_hit_cap": raised if bound else cap,
    }
    return dataclasses.replace(config, train=train), record


def state_shardings(state: TrainState, mesh: Mesh, shard_tables: bool) -> TrainState:
    """Replicated state, or with `shard_tables` the embedding tables split along the vocabulary
    over the data axis (for tables too large for one device; the vocabulary size must divide by
    the mesh size, which `train.word2vec.check_mesh` checks)."""
    shardings = jax.tree.map(lambda _: distributed.replicated(mesh), state)
    if shard_tables:
        table = distributed.split_along(mesh, 0, 2)
        for name in ("input_embeddings", "output_embeddings"):
            shardings["params"][name] = jax.tree.map(lambda _: table, state["params"][name])
    return shardings


def make_train_step(
    config: Config,
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    noise_distribution: np.ndarray,
    mesh: Mesh | None = None,
    shardings: TrainState | None = None,
    tree: hs.HuffmanTree | None = None,
) -> Callable[[TrainState, jax.Array, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """Build `train_step(state, ids, docs) -> (state, metrics)`, jitted with the state donated.

    ids and docs hold S = steps_per_dispatch groups of P = parallel_blocks blocks, shape
    (S, batch_size + 2·window) when P = 1 and (S, P, batch_size + 2·window) otherwise; the step
    runs S SGD steps in one `lax.scan` so that Python dispatch is paid once per S·P blocks. The P
    blocks of an SGD step compute their row updates from the same tables and are scatter-added
    together, capped on each row's hits over all P (scatter_row_updates; a shared negative's draw
    counts once or by its pairs, negative_hit_weight). Metrics are averaged
    over the S steps. Randomness (dynamic window, negatives) of block b comes from
    fold_in(key, b) (b = step·P + p), so a resumed run draws exactly what the original would
    have.

    With a `mesh` (and the state's `shardings`), the P axis is split over the data axis: each
    device computes the updates of its blocks, then the (ids, updates) rows are gathered to every
    device and scattered into the tables, so every device applies the same sums as one device.

    With model.output=hs, `tree` (the vocabulary's Huffman tree) replaces the negatives: the
    output rows a block touches are the nodes of its centres' paths, and the same gather,
    SGD and capped scatter apply to them.
    """
    window = config.data.window
    layout = ns.BlockLayout.build(config.train.batch_size, config.train.chunk_size, window)
    num_chunks = layout.centre_positions.shape[0]
    noise_cdf = jnp.asarray(np.cumsum(noise_distribution), jnp.float32)
    negatives = config.data.negatives
    shared = config_lib.shared_negatives(config)
    draw_weight = negative_hit_weight(config, noise_distribution)
    hit_cap = float(config_lib.row_hit_cap(config))
    kind = config.model.kind
    parallel = config.train.parallel_blocks
    reject_target = config.train.reject_target_negatives
    # P = 1 keeps word2vec's calibrated step (negative_hit_weight): the bound is for P > 1.
    if parallel > 1 and config.train.curvature_bound == -1:
        raise ValueError(
            "train.curvature_bound=-1 is decided from the corpus: pass the config through "
            "resolve_curvature_bound (train.word2vec.fit does) or set 0 or a bound"
        )
    curvature_bound = config.train.curvature_bound if parallel > 1 else 0.0
    hierarchical = config.model.output == "hs"
    if hierarchical:
        if tree is None:
            raise ValueError("model.output=hs needs the vocabulary's Huffman tree (tree=...)")
        path_points = jnp.asarray(tree.points)
        path_signs = jnp.asarray(tree.signs())
        path_mask = jnp.asarray(tree.mask())

    def as_f32(rows: jax.Array) -> jax.Array:
        # Tables may be stored in bfloat16 (model.table_dtype) to halve the bytes moved; the
        # block's arithmetic, its loss and pair sums stay float32, and updates are rounded to
        # the table's dtype when scattered.
        return rows.astype(jnp.float32)

    def hs_block_gradients(table_in, table_out, ids, docs, key):
        """block_gradients for hierarchical softmax: each centre's path replaces the negatives.

        Skip-gram predicts the centre's path from each context word's input row (word2vec.c's
        and gensim's direction for hs), so its input updates go to the block's tokens' rows.
        """
        window_key, _ = jax.random.split(key)  # the same windows as negative sampling draws
        safe_ids = jnp.maximum(ids, 0)
        centre_ids = safe_ids[window : window + layout.centre_positions.size]
        points = path_points[centre_ids]
        signs, mask = path_signs[centre_ids], path_mask[centre_ids]
        path_rows = as_f32(table_out[points])
        if kind == "skipgram":
            pair_mask = ns.offset_mask(window_key, ids, docs, layout.centre_positions.shape, window)
            rows = {"block": as_f32(table_in[safe_ids]), "path": path_rows}

            def loss_fn(r):
                return hs.skipgram_hs_loss(r["block"], r["path"], signs, mask, pair_mask)

            (loss, pairs), grads = jax.value_and_grad(loss_fn, has_aux=True)(rows)
            in_ids, in_grads = safe_ids, grads["block"]
            has_pair = jnp.any(pair_mask, axis=-1)
        else:
            pair_mask = ns.offset_mask(window_key, ids, docs, layout.centre_positions.shape, window)
            hidden, counts = ns.cbow_hidden(as_f32(table_in[safe_ids]), pair_mask)
            num_chunks, chunk = layout.centre_positions.shape
            rows = {
                "hidden": hidden.reshape(num_chunks, chunk, -1),
                "path": path_rows.reshape(num_chunks, chunk, *path_rows.shape[1:]),
            }
            counts = counts.reshape(num_chunks, chunk)

            def loss_fn(r):
                return hs.cbow_hs_loss(
                    r["hidden"],
                    r["path"],
                    signs.reshape(num_chunks, chunk, -1),
                    mask.reshape(num_chunks, chunk, -1),
                    counts,
                )

            (loss, pairs), grads = jax.value_and_grad(loss_fn, has_aux=True)(rows)
            in_ids = safe_ids
            in_grads = ns.spread_to_neighbours(grads["hidden"].reshape(hidden.shape), pair_mask)
            has_pair = counts.reshape(-1) > 0
        grads = {"input": in_grads, "path": grads["path"].reshape(path_rows.shape)}
        # Hits for the row cap: the real nodes of the paths of centres that have a pair (padding
        # and centres without context carry a zero update).
        counted = mask * has_pair[:, None]
        rows_of = {"input": in_ids, "path": points, "path_counted": counted}
        return loss, pairs, grads, rows_of

    def block_gradients(table_in, table_out, ids, docs, key):
        """One block's loss sum, pair count, row gradients and the rows they belong to."""
        window_key, negative_key = jax.random.split(key)
        safe_ids = jnp.maximum(ids, 0)
        centre_ids = safe_ids[layout.centre_positions]
        negative_ids = ns.sample_negatives(negative_key, noise_cdf, (num_chunks, shared))
        # Each centre's own 2w neighbours, as shifted slices of the block (negative_sampling).
        pair_mask = ns.offset_mask(window_key, ids, docs, layout.centre_positions.shape, window)
        rows_of = {"centre": centre_ids, "context": safe_ids, "negative": negative_ids}
        clashes = None

        if kind == "skipgram":
            if reject_target:
                clashes = ns.negative_clashes(pair_mask, ids, negative_ids)
            rows = {
                "centre": as_f32(table_in[centre_ids]),
                "context": as_f32(table_out[safe_ids]),
                "negative": as_f32(table_out[negative_ids]),
            }

            def loss_fn(r):
                return ns.skipgram_loss(
                    r["centre"], r["context"], r["negative"], pair_mask, negatives, clashes
                )

            (loss, pairs), grads = jax.value_and_grad(loss_fn, has_aux=True)(rows)
            if curvature_bound > 0:  # what word2vec_curvature needs of the block
                rows_of["block"] = {"rows": rows, "pair_mask": pair_mask, "clashes": clashes}
        else:
            hidden, counts = ns.cbow_hidden(as_f32(table_in[safe_ids]), pair_mask)
            hidden = hidden.reshape(*centre_ids.shape, -1)
            counts = counts.reshape(centre_ids.shape)
            if reject_target:
                clashes = (centre_ids[..., None] == negative_ids[:, None, :]).astype(jnp.float32)
            rows = {
                "hidden": hidden,
                "centre": as_f32(table_out[centre_ids]),
                "negative": as_f32(table_out[negative_ids]),
            }

            def loss_fn(r):
                return ns.cbow_loss(
                    r["hidden"], r["centre"], r["negative"], counts, negatives, clashes
                )

            (loss, pairs), grads = jax.value_and_grad(loss_fn, has_aux=True)(rows)
            # word2vec's CBOW update: each centre's error added to every context row undivided
            # by the context's size (word2vec.c; gensim with cbow_mean=1), not the gradient.
            hidden_error = grads.pop("hidden").reshape(-1, hidden.shape[-1])
            grads["context"] = ns.spread_to_neighbours(hidden_error, pair_mask)
            if curvature_bound > 0:  # the bound weighs the step against the loss's gradient
                per_centre = hidden_error / jnp.maximum(counts.reshape(-1), 1.0)[:, None]
                rows_of["block"] = {
                    "rows": rows,
                    "pair_mask": pair_mask,
                    "clashes": clashes,
                    "ids": safe_ids,
                    "gradients": {"context": ns.spread_to_neighbours(per_centre, pair_mask)},
                }
        return loss, pairs, grads, rows_of

    def gathered(x: jax.Array) -> jax.Array:
        # Every device scatters all P blocks' rows: an all-gather of the (few) touched rows, not
        # an all-reduce of whole V x D tables.
        return (
            x if mesh is None else jax.lax.with_sharding_constraint(x, distributed.replicated(mesh))
        )

    def block_step(state: TrainState, block: tuple[jax.Array, jax.Array]):
        ids, docs = block
        model = nnx.merge(graphdef, state["params"])
        table_in = model.input_embeddings[...]
        table_out = model.output_embeddings[...]
        dim = table_in.shape[1]
        gradients = hs_block_gradients if hierarchical else block_gradients
        if parallel == 1:
            key = jax.random.fold_in(state["key"], state["step"])
            loss, pairs, grads, rows_of = gradients(table_in, table_out, ids, docs, key)
        else:
            first = state["step"] * parallel
            keys = jax.vmap(jax.random.fold_in, (None, 0))(
                state["key"], first + jnp.arange(parallel)
            )
            loss, pairs, grads, rows_of = jax.vmap(gradients, (None, None, 0, 0, 0))(
                table_in, table_out, ids, docs, keys
            )
            loss, pairs = loss.sum(), pairs.sum()

        updates, opt_state = tx.update(grads, state["opt_state"])
        out_weights = None
        if hierarchical:
            in_ids, in_updates = rows_of["input"], updates["input"]
            out_ids, out_updates = rows_of["path"], updates["path"]
            out_weights = rows_of["path_counted"].ravel()
        else:
            # The output table's rows: skip-gram's block tokens (its positives) or CBOW's
            # centres, then the negatives (the order the curvature bound reads them in).
            (inputs,), (positive, _) = curvature.TABLE_ROWS[kind]
            in_ids, in_updates = rows_of[inputs], updates[inputs]
            out_ids = jnp.concatenate([rows_of[positive].ravel(), rows_of["negative"].ravel()])
            out_updates = jnp.concatenate(
                [updates[positive].reshape(-1, dim), updates["negative"].reshape(-1, dim)]
            )
            if draw_weight != 1.0:
                out_weights = jnp.concatenate(
                    [
                        jnp.ones(rows_of[positive].size, jnp.float32),
                        jnp.full(rows_of["negative"].size, draw_weight, jnp.float32),
                    ]
                )
        in_scale = out_scale = None
        if curvature_bound > 0:
            in_scale, out_scale = curvature.negative_sampling_step_scales(
                kind,
                table_in.shape[0],
                rows_of,
                grads,
                in_updates,
                out_updates,
                negatives,
                curvature_bound,
                gathered,
            )
        model.input_embeddings[...] = scatter_row_updates(
            table_in,
            gathered(in_ids.ravel()),
            gathered(in_updates.reshape(-1, dim)),
            hit_cap,
            row_scales=in_scale,
        )
        model.output_embeddings[...] = scatter_row_updates(
            table_out,
            gathered(out_ids.ravel()),
            gathered(out_updates.reshape(-1, dim)),
            hit_cap,
            None if out_weights is None else gathered(out_weights),
            row_scales=out_scale,
        )
        new_state = {
            "params": nnx.state(model),
            "opt_state": opt_state,
            "step": state["step"] + 1,
            "key": state["key"],
        }
        metrics = {"loss_sum": loss, "pairs": pairs, "learning_rate": schedule(state["step"])}
        return new_state, metrics

    def train_step(state: TrainState, ids: jax.Array, docs: jax.Array):
        state, per_step = jax.lax.scan(block_step, state, (ids, docs))
        loss_sum, pairs = per_step["loss_sum"], per_step["pairs"]
        if config.train.skip_nonfinite > 0:  # skipped steps made no update: leave them out
            finite = jnp.isfinite(loss_sum)
            loss_sum, pairs = jnp.where(finite, loss_sum, 0.0), jnp.where(finite, pairs, 0)
        metrics = {
            "loss": loss_sum.sum() / jnp.maximum(pairs.sum(), 1.0),
            "pairs": pairs.sum(),
            "learning_rate": per_step["learning_rate"][-1],
            **skip_counts(state["opt_state"]),
        }
        return state, metrics

    options = step_compiler_options(
        config.train.xla_options, config_lib.word2vec_cpu_scheduler(config)
    )
    if mesh is None:
        return jax.jit(train_step, donate_argnums=0, compiler_options=options)
    blocks = distributed.split_along(mesh, 1, 3)
    return jax.jit(
        train_step,
        in_shardings=(shardings, blocks, blocks),
        out_shardings=(shardings, distributed.replicated(mesh)),
        donate_argnums=0,
        compiler_options=options,
    )
