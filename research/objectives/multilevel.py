"""The multi-abstraction objective: predict an EMA target's states at several levels, plus
context-conditioned (FiLM) contrastive spaces. The README's "The multi-abstraction head" section.

Per step, on packed sequences with per-token sentence and document ids (-1 on specials/padding):

* the student encoder sees the input with masked *spans* (`mask_spans`) and whole *withheld
  sentences* (`mask_sentences`, rate `sentence_mask_rate`), every hidden token replaced by
  [MASK]; the EMA target encoder (objectives/ema.py: a half-life sized to the run) sees the full
  input; its per-token target is the layer-normalised mean of its top `target_layers` blocks
  (0 = the top half);
* each level pools targets and student states into items that ask for withheld content
  (`level_items`): masked tokens, masked spans, withheld sentences predicted from the rest of
  their document (the latent analogue of next-sentence prediction, as in Large Concept Models
  and JEPA), documents predicted from the sentences left. No prediction reads the tokens it
  predicts (tests/test_multilevel.py checks it by changing those tokens). All pooling is
  fixed-shape (`segment_means`, `window_means`), so the step compiles once;
* the head (models/multilevel_head.py) maps student inputs to one prediction per level; the loss
  per level is regression to the normalised target (cosine: 1 - cos, or smooth-L1) plus
  `nce_weight` x InfoNCE of each prediction against the other items' targets of the same level
  (in the batch, or only the same packed sequence: `nce_negatives`), which keeps the predictions
  from collapsing onto a constant;
* monitors: per level the number of items, the InfoNCE accuracy (1.0 early = a shortcut), and
  the standard deviation across the batch of the L2-normalised predictions and targets (0 =
  collapsed, about 1/sqrt(D) = isotropic); the teacher-student distance (train/encoder_step.py);
* context term (`context_nce`): see `context_info_nce`.

The levels' losses are averaged with `level_weights` (normalised to sum to 1), so adding levels
does not change the objective's scale; the context term is added with `context_weight`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from research.data import tokenizer as tok
from research.errors import UserError
from research.models.multilevel_head import LEVELS
from research.models.pooling import max_segments, segment_counts, segment_means, window_means
from research.objectives.ema import layer_norm, target_encoder_states, top_half
from research.objectives.masking import mask_sentences, mask_spans

FIRST_WORD_ID = len(tok.SPECIAL_TOKENS)  # ids below are special tokens, never masked
# In-batch InfoNCE compares every item with every other; above this many valid items per level
# a uniform random subset of this size takes part (the regression term still sees all items).
NCE_MAX_ITEMS = 1024


# ------------------------------------------------------------------------------------------------
# Settings (ObjectiveConfig's typed fields, checked before anything is built)
# ------------------------------------------------------------------------------------------------


def levels(objective) -> tuple[str, ...]:
    chosen = tuple(objective.levels)
    unknown = [lv for lv in chosen if lv not in LEVELS]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise UserError(
            f"objective.levels={list(chosen)}: expected distinct levels from {', '.join(LEVELS)}, "
            "e.g. --set objective.levels=[token,sentence]"
        )
    return chosen


def level_weights(objective) -> dict[str, float]:
    """{level: weight}; levels not named in `level_weights` weigh 1."""
    chosen = levels(objective)
    unknown = sorted(set(objective.level_weights) - set(chosen))
    if unknown:
        raise UserError(f"objective.level_weights names {unknown[0]!r}, not one of levels {chosen}")
    weights = {level: float(objective.level_weights.get(level, 1.0)) for level in chosen}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise UserError("objective.level_weights must be non-negative with a positive sum")
    return weights


def matryoshka(objective, dim: int) -> dict[str, int]:
    """{level: n}: that level's loss (and embedding) uses only the first n dimensions."""
    chosen = levels(objective)
    for name, size in objective.matryoshka.items():
        if name not in chosen:
            raise UserError(f"objective.matryoshka names {name!r}, not one of levels {chosen}")
        if not 1 <= size <= dim:
            raise UserError(f"objective.matryoshka: {name}={size} must be in 1..{dim}")
    return dict(objective.matryoshka)


def contexts(objective) -> tuple[str, ...]:
    names = tuple(objective.contexts)
    if len(set(names)) != len(names):
        raise UserError(f"objective.contexts={list(names)} repeats a name")
    return names


def validate(objective, dim: int | None = None) -> None:
    """Loud, early checks of the multi-abstraction settings (called before anything is built)."""
    level_weights(objective)
    contexts(objective)
    if dim is not None:
        matryoshka(objective, dim)
    checks = [
        (objective.span_length >= 1, "objective.span_length must be at least 1"),
        (objective.target_layers >= 0, "objective.target_layers must be 0 (top half) or more"),
        (
            0 <= objective.sentence_mask_rate < 1,
            "objective.sentence_mask_rate must be in [0, 1)",
        ),
        (objective.ema_half_life > 0, "objective.ema_half_life must be positive"),
        (
            0 <= objective.ema_start <= objective.ema_end <= 1,
            "objective.ema_start <= objective.ema_end must both be in [0, 1]",
        ),
        (objective.nce_weight >= 0, "objective.nce_weight must be non-negative"),
        (objective.context_weight >= 0, "objective.context_weight must be non-negative"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


# ------------------------------------------------------------------------------------------------
# Items per level
# ------------------------------------------------------------------------------------------------


def level_items(
    level: str,
    student: jax.Array,
    target: jax.Array,
    *,
    masked: jax.Array,
    withheld: jax.Array,
    starts: jax.Array,
    members: jax.Array,
    sentence_ids: jax.Array,
    document_ids: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(student inputs (N, D), pooled targets (N, D), weights (N,)) of one level, flattened.

    student and target are (B, L) x D states; `masked` marks every token the student did not
    see, `withheld` the tokens of whole withheld sentences (a subset of `masked`). Weights mark
    the items that exist and ask for withheld content:
        token     a masked token: its own target
        span      a masked span's start: the span's mean, targets and student alike
        sentence  a withheld sentence whose document kept a visible sentence in the sequence:
                  the student's states at its (masked) positions, pooled, predict the
                  target's mean over the sentence; what it can use is the rest of the document
        document  a document segment with both withheld and visible sentences: the student's
                  mean over the segment predicts the target's mean over the whole document
    """
    batch, length, dim = student.shape
    if level == "token":
        s, t, w = student, target, masked
    elif level == "span":
        s, t, w = window_means(student, members), window_means(target, members), starts
    elif level in ("sentence", "document"):
        count = max_segments(length)
        s, _ = segment_means(student, sentence_ids if level == "sentence" else document_ids, count)
        t, _ = segment_means(target, sentence_ids if level == "sentence" else document_ids, count)
        visible = (document_ids >= 0) & ~withheld
        visible_in_doc = segment_counts(jnp.where(visible, document_ids, -1), count)
        withheld_in_doc = segment_counts(jnp.where(withheld, document_ids, -1), count)
        if level == "document":
            w = (visible_in_doc > 0) & (withheld_in_doc > 0)
        else:
            # per token: its document kept a visible token; per sentence: withheld and that
            context = jnp.take_along_axis(visible_in_doc, jnp.clip(document_ids, 0, count - 1), 1)
            asks = withheld & (context > 0)
            w = segment_counts(jnp.where(asks, sentence_ids, -1), count) > 0
    else:
        raise ValueError(f"level {level!r}; choose one of {LEVELS}")
    return (
        s.reshape(-1, dim).astype(jnp.float32),
        t.reshape(-1, dim).astype(jnp.float32),
        w.reshape(-1).astype(jnp.float32),
    )


def item_rows(level: str, batch: int, length: int) -> jax.Array:
    """(N,) the packed sequence each of `level_items`'s flattened items comes from."""
    per_row = length if level in ("token", "span") else max_segments(length)
    return jnp.repeat(jnp.arange(batch), per_row)


# ------------------------------------------------------------------------------------------------
# Losses and monitors
# ------------------------------------------------------------------------------------------------


def _unit(x: jax.Array) -> jax.Array:
    x = x.astype(jnp.float32)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    total = weights.sum()
    return (values * weights).sum() / jnp.where(total > 0, total, 1.0)


def regression_loss(
    predictions: jax.Array, targets: jax.Array, weights: jax.Array, kind: str
) -> jax.Array:
    """Weighted mean over items of 1 - cos (kind "cosine") or smooth-L1 per dimension, with the
    target layer-normalised (no learned parameters) either way."""
    targets = layer_norm(targets)
    if kind == "cosine":
        per_item = 1.0 - (_unit(predictions) * _unit(targets)).sum(-1)
    elif kind == "smooth_l1":
        per_item = optax.huber_loss(predictions.astype(jnp.float32), targets, delta=1.0).mean(-1)
    else:
        raise ValueError(f"regression {kind!r}; choose cosine or smooth_l1")
    return _weighted_mean(per_item, weights)


def masked_info_nce(
    predictions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    temperature: float,
    exclude: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) of InfoNCE of prediction i against target i among the valid targets.

    Rows and columns with weight 0 take no part; `exclude` (N, N) bool additionally removes
    (i, j) pairs from the negatives (known false negatives; the diagonal is always kept).
    Cosine logits / temperature, float32, one direction (predictions -> targets).
    """
    logits = _unit(predictions) @ _unit(targets).T / temperature
    keep = (weights > 0)[None, :]
    if exclude is not None:
        keep = keep & ~(exclude & ~jnp.eye(len(weights), dtype=bool))
    logits = jnp.where(keep, logits, -1e9)
    labels = jnp.arange(len(weights))
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return _weighted_mean(losses, weights), _weighted_mean(correct, weights)


def spread(x: jax.Array, weights: jax.Array) -> jax.Array:
    """Collapse monitor: std across valid items of the L2-normalised rows, averaged over dims."""
    unit = _unit(x)
    w = weights[:, None]
    count = jnp.maximum(weights.sum(), 1.0)
    mean = (unit * w).sum(0) / count
    var = (jnp.square(unit - mean) * w).sum(0) / count
    return jnp.sqrt(var + 1e-12).mean()


def _subsample(key, arrays, weights, size):
    """Up to `size` valid items chosen uniformly at random (static shapes)."""
    if len(weights) <= size:
        return arrays, weights
    priority = weights + 0.5 * jax.random.uniform(key, weights.shape)
    _, index = jax.lax.top_k(priority, size)
    return [a[index] for a in arrays], weights[index]


def level_loss(
    predictions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    *,
    regression: str,
    temperature: float,
    key: jax.Array,
    rows: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """regression, nce, nce accuracy and the collapse monitor of one level; every term compares
    with the layer-normalised target. With `rows` (each item's packed sequence) the InfoNCE's
    negatives are only the items of the same sequence (objective.nce_negatives="sequence")."""
    targets = layer_norm(targets)
    out = {"regression": regression_loss(predictions, targets, weights, regression)}
    if rows is None:
        (p, t), w = _subsample(key, [predictions, targets], weights, NCE_MAX_ITEMS)
        out["nce"], out["nce_accuracy"] = masked_info_nce(p, t, w, temperature)
    else:
        (p, t, r), w = _subsample(key, [predictions, targets, rows], weights, NCE_MAX_ITEMS)
        other_row = r[:, None] != r[None, :]
        out["nce"], out["nce_accuracy"] = masked_info_nce(p, t, w, temperature, other_row)
    out["pred_std"] = jax.lax.stop_gradient(spread(predictions, weights))
    out["target_std"] = jax.lax.stop_gradient(spread(targets, weights))
    return out


def context_info_nce(
    film,
    anchors: jax.Array,
    positives: jax.Array,
    context_ids: jax.Array,
    positive_topics: jax.Array,
    temperature: float,
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) of the context-conditioned contrastive term.

    A context c is a similarity relation: two sentences are c-similar when both come from
    documents of topic c. Row i is an anchor from a document of topic c_i, read in context c_i:
    query = FiLM(anchor_i, c_i). Its candidates are every row's positive read in the *same*
    context, FiLM(positive_j, c_i), so each comparison happens inside one context's space. Its
    positive is another sentence of topic c_i (text_batches.context_batch); the other rows'
    positives of topic c_i are c-similar too, so they are removed from its negatives; the rest
    (sentences of other topics) are the negatives. A sentence read in a context that is not its
    topic has no c-similar partner under this relation, so it is never an anchor: in context c
    it only appears as a negative of c's anchors. The c-space thus learns to bring c's sentences
    together and away from the rest, and says nothing about how non-c sentences relate to each
    other (an earlier variant gave off-context anchors themselves as positives, SimCSE-style: that
    asks every space to keep every sentence apart, and the context effect was weaker).

    film(embeddings (..., D), context ids (...)) -> (..., D); positive_topics are context indices,
    -1 for a topic that is not a context.
    """
    size = len(context_ids)
    queries = film(anchors, context_ids)  # (S, D)
    keys = film(
        jnp.broadcast_to(positives[None], (size, *positives.shape)),
        jnp.broadcast_to(context_ids[:, None], (size, size)),
    )  # (S, S, D): keys[i, j] = FiLM(positive_j, c_i)
    logits = jnp.einsum("sd,std->st", _unit(queries), _unit(keys)) / temperature
    same_relation = positive_topics[None, :] == context_ids[:, None]
    keep = ~same_relation | jnp.eye(size, dtype=bool)
    logits = jnp.where(keep, logits, -1e9)
    labels = jnp.arange(size)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = (jnp.argmax(logits, axis=-1) == labels).mean()
    return loss, accuracy


# ------------------------------------------------------------------------------------------------
# The objective
# ------------------------------------------------------------------------------------------------


def target_layer_count(objective, depth: int) -> int:
    """objective.target_layers, with 0 meaning the top half of `depth` blocks."""
    return objective.target_layers or top_half(depth)


def student_view(key: jax.Array, batch: dict, objective, vocab_size: int) -> dict[str, jax.Array]:
    """The student's input and what it withholds: masked spans inside visible sentences plus
    whole withheld sentences, every withheld token replaced by [MASK] (no random or kept
    tokens, data2vec-style: a prediction must never read the token it predicts)."""
    span_key, sentence_key = jax.random.split(key)
    tokens = batch["tokens"]
    maskable = tokens >= FIRST_WORD_ID
    sentence_ids = batch["sentence_ids"]
    inputs, spans, starts, members = mask_spans(
        span_key,
        tokens,
        maskable,
        sentence_ids,
        mask_id=tok.MASK,
        vocab_size=vocab_size,
        rate=objective.mask_rate,
        span_length=objective.span_length,
        random_rate=0.0,
        keep_rate=0.0,
    )
    withheld = maskable & mask_sentences(
        sentence_key, sentence_ids, objective.sentence_mask_rate, max_segments(tokens.shape[1])
    )
    inputs = jnp.where(withheld, jnp.asarray(tok.MASK, tokens.dtype), inputs)
    return {
        "inputs": inputs,
        "masked": spans | withheld,
        "withheld": withheld,
        "starts": starts,
        "members": members,
    }


def level_predictions(
    model, target_encoder, config, batch: dict, key: jax.Array
) -> tuple[dict[str, tuple[jax.Array, jax.Array, jax.Array]], dict[str, jax.Array]]:
    """({level: (predictions (N, D_l), targets (N, D_l), weights (N,))}, masking metrics).

    The student encoder reads `student_view`'s input; the EMA target encoder the full input.
    """
    objective = config.objective
    view_key, student_key = jax.random.split(key)
    tokens = batch["tokens"]
    padding = tokens != tok.PAD
    view = student_view(view_key, batch, objective, model.settings.vocab_size)
    student = model.encoder(view["inputs"], padding, deterministic=False, rngs=student_key)
    depth = len(student) - 1
    student = student[-1]
    target = target_encoder_states(
        target_encoder, tokens, padding, target_layer_count(objective, depth)
    )
    maskable = tokens >= FIRST_WORD_ID
    metrics = {
        "masked_fraction": view["masked"].sum() / jnp.maximum(maskable.sum(), 1),
        "withheld_fraction": view["withheld"].sum() / jnp.maximum(maskable.sum(), 1),
    }
    out = {}
    for level in model.levels:
        s, t, w = level_items(
            level,
            student,
            target,
            masked=view["masked"],
            withheld=view["withheld"],
            starts=view["starts"],
            members=view["members"],
            sentence_ids=batch["sentence_ids"],
            document_ids=batch["document_ids"],
        )
        predictions = model.level_head(s, level)
        size = model.level_dims(level)
        if size is not None:
            predictions, t = predictions[:, :size], t[:, :size]
        out[level] = (predictions, t, w)
        metrics[f"{level}_items"] = w.sum()
    return out, metrics


def multi_abstraction_loss(
    model, target_encoder, config, batch: dict, key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The objective's loss on `batch` and its metrics.

    model: the TextModel (student encoder, `level_head`, `context_film`); target_encoder: the
    EMA encoder (its parameters get no gradient: `target_encoder_states` stops it).
    batch: tokens, sentence_ids, document_ids (B, L); for the context term also
    context_anchors, context_positives (S, Ls) and context_ids, context_positive_topics (S,).
    """
    objective = config.objective
    predict_key, nce_key, view_a, view_b = jax.random.split(key, 4)
    predictions, metrics = level_predictions(model, target_encoder, config, batch, predict_key)
    batch_size, length = batch["tokens"].shape
    weights = level_weights(objective)
    total = jnp.zeros((), jnp.float32)
    for i, (level, (p, t, w)) in enumerate(predictions.items()):
        rows = None
        if objective.nce_negatives == "sequence":
            rows = item_rows(level, batch_size, length)
        parts = level_loss(
            p,
            t,
            w,
            regression=objective.regression,
            temperature=objective.temperature,
            key=jax.random.fold_in(nce_key, i),
            rows=rows,
        )
        total = total + weights[level] * (parts["regression"] + objective.nce_weight * parts["nce"])
        metrics.update({f"{level}_{name}": value for name, value in parts.items()})
    total = total / sum(weights.values())
    if model.context_film is not None and objective.context_weight > 0 and "context_ids" in batch:
        anchors, positives = batch["context_anchors"], batch["context_positives"]
        a = model.sentence_embedding(anchors, anchors != tok.PAD, deterministic=False, rngs=view_a)
        b = model.sentence_embedding(
            positives, positives != tok.PAD, deterministic=False, rngs=view_b
        )
        context_loss, metrics["context_accuracy"] = context_info_nce(
            model.context_film,
            a,
            b,
            batch["context_ids"],
            batch["context_positive_topics"],
            objective.temperature,
        )
        metrics["context_nce"] = context_loss
        total = total + objective.context_weight * context_loss
    return total, metrics


def multi_abstraction_term(model, config, batch: dict, key: jax.Array, target_encoder=None):
    """The registered `multi_abstraction` objective. Its own key stream (fold_in(key, 1)), so
    adding it to a sum leaves the other objectives' randomness unchanged."""
    return multi_abstraction_loss(model, target_encoder, config, batch, jax.random.fold_in(key, 1))
