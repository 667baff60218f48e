"""Transformer encoder and heads: shapes, masking, causality, dropout keys, dtypes, sizes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from research.errors import UserError
from research.models import Encoder, EncoderConfig, MLMHead, ProjectionHead, count_params, pool
from research.models.encoder import POSITIONS, gelu

VOCAB = 50


def tiny(**overrides) -> EncoderConfig:
    return EncoderConfig.from_size("tiny", VOCAB, **{"max_len": 16, **overrides})


def batch(length: int = 6) -> tuple[jax.Array, jax.Array]:
    """Two sequences; the second has two padded positions at the end."""
    tokens = jax.random.randint(jax.random.PRNGKey(0), (2, length), 1, VOCAB, jnp.int32)
    mask = jnp.ones((2, length), bool).at[1, -2:].set(False)
    return tokens, mask


@pytest.fixture(scope="module")
def model() -> Encoder:
    return Encoder(tiny(), rngs=nnx.Rngs(0))


def test_returns_every_layer(model):
    tokens, mask = batch()
    states = model(tokens, mask)
    assert len(states) == model.config.layers + 1
    for s in states:
        assert s.shape == (2, 6, 64) and s.dtype == jnp.float32
        assert np.isfinite(np.asarray(s)).all()
    # Pre-norm: only the last entry is LayerNorm-ed (zero mean, unit variance per position).
    np.testing.assert_allclose(np.asarray(states[-1]).mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(states[-1]).var(-1), 1.0, rtol=1e-3)


@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("causal", [False, True])
def test_padded_tokens_change_nothing_at_real_positions(positions, causal):
    model = Encoder(tiny(positions=positions), rngs=nnx.Rngs(0))
    tokens, mask = batch()
    other = tokens.at[1, -2:].set(jnp.array([7, 9]))  # different ids under the padding
    a = model(tokens, mask, causal=causal)
    b = model(other, mask, causal=causal)
    real = np.asarray(mask)
    for sa, sb in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(sa)[real], np.asarray(sb)[real], atol=1e-6)
    assert not np.allclose(np.asarray(a[-1])[~real], np.asarray(b[-1])[~real])


def influence(model: Encoder, causal: bool) -> np.ndarray:
    """(L, L) matrix: total |d final_state[t] / d input_state[s]|, through the gradients."""
    tokens, mask = batch(5)
    x = model.embed(tokens[:1])

    def final(x):
        return model.encode(x, mask[:1], causal=causal)[-1][0]

    jac = jax.jit(jax.jacobian(final))(x)  # (L, D, 1, L, D)
    return np.abs(np.asarray(jac)[:, :, 0]).sum(axis=(1, 3))


@pytest.mark.parametrize("positions", POSITIONS)
def test_causal_has_no_look_ahead(positions):
    model = Encoder(tiny(positions=positions), rngs=nnx.Rngs(0))
    grad = influence(model, causal=True)
    future = np.triu(np.ones_like(grad, bool), k=1)  # s > t
    assert (grad[future] == 0).all()
    assert (grad[~future] > 0).all()
    assert (influence(model, causal=False) > 0).all()  # bidirectional does look ahead


def test_jit_matches_eager_with_and_without_dropout(model):
    tokens, mask = batch()
    graphdef, params = nnx.split(model)

    @jax.jit
    def forward(params, tokens, mask, key):
        m = nnx.merge(graphdef, params)
        return m(tokens, mask), m(tokens, mask, deterministic=False, rngs=key)

    key = jax.random.PRNGKey(3)
    jitted, jitted_dropout = forward(params, tokens, mask, key)
    for a, b in zip(jitted, model(tokens, mask), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    eager_dropout = model(tokens, mask, deterministic=False, rngs=nnx.Rngs(dropout=key))
    for a, b in zip(jitted_dropout, eager_dropout, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_dropout_is_controlled_by_flag_and_key(model):
    tokens, mask = batch()
    assert not nnx.state(model, nnx.RngState)  # no RNG counters in the model state
    first = model(tokens, mask)[-1]
    np.testing.assert_array_equal(first, model(tokens, mask, rngs=jax.random.PRNGKey(1))[-1])

    def train(seed):
        return model(tokens, mask, deterministic=False, rngs=jax.random.PRNGKey(seed))[-1]

    np.testing.assert_array_equal(train(1), train(1))
    assert not np.allclose(train(1), train(2))
    assert not np.allclose(train(1), first)
    with pytest.raises(ValueError, match="rngs"):
        model(tokens, mask, deterministic=False)


def test_bfloat16_stays_close_to_float32():
    tokens, mask = batch()
    f32 = Encoder(tiny(), rngs=nnx.Rngs(0))
    bf16 = Encoder(tiny(dtype="bfloat16"), rngs=nnx.Rngs(0))
    dtypes = {p.dtype for p in jax.tree.leaves(nnx.state(bf16, nnx.Param))}
    assert dtypes == {jnp.dtype(jnp.float32)}  # params stay float32
    low = bf16(tokens, mask)
    high = f32(tokens, mask)
    for a, b in zip(low, high, strict=True):
        assert a.dtype == jnp.bfloat16
        # bfloat16 keeps 8 mantissa bits (~0.4% per rounding); LayerNorm-ed states are O(1).
        scale = np.abs(np.asarray(b)).max()
        np.testing.assert_allclose(np.asarray(a, np.float32), b, atol=0.05 * scale)


@pytest.mark.parametrize("positions", POSITIONS)
def test_outputs_depend_on_position(positions):
    """Without positions attention is permutation-equivariant: reversing the input would reverse
    the output. Every position scheme must break that."""
    model = Encoder(tiny(positions=positions), rngs=nnx.Rngs(0))
    tokens = jnp.arange(1, 7, dtype=jnp.int32)[None]
    mask = jnp.ones_like(tokens, bool)
    forward = np.asarray(model(tokens, mask)[-1])
    backward = np.asarray(model(tokens[:, ::-1], mask)[-1])[:, ::-1]
    assert np.abs(forward - backward).max() > 1e-2
    if positions == "learned":
        # Control: with the position table zeroed the reversal is exact, so the check above
        # measures the positions and not something else.
        model.position_embed.embedding[...] = jnp.zeros_like(model.position_embed.embedding[...])
        forward = np.asarray(model(tokens, mask)[-1])
        backward = np.asarray(model(tokens[:, ::-1], mask)[-1])[:, ::-1]
        np.testing.assert_allclose(forward, backward, atol=1e-5)


def test_base_size_is_bert_base():
    config = EncoderConfig.from_size("base", 30522, max_len=512)
    abstract = nnx.eval_shape(lambda: Encoder(config, rngs=nnx.Rngs(0)))  # shapes only
    n = count_params(abstract)
    D, F, L = 768, 3072, 12
    per_block = 4 * (D * D + D) + (D * F + F) + (F * D + D) + 2 * 2 * D
    assert n == 30522 * D + 512 * D + L * per_block + 2 * D
    # BERT-base is "110M" (109.5M with its pooler and token-type table, which we do not have).
    assert n == pytest.approx(110e6, rel=0.03)


def test_config_rejects_mistakes():
    with pytest.raises(UserError):
        EncoderConfig.from_size("huge", VOCAB)
    with pytest.raises(UserError):
        tiny(positions="alibi")
    with pytest.raises(UserError):
        tiny(heads=3)
    with pytest.raises(UserError):
        Encoder(tiny(max_len=4), rngs=nnx.Rngs(0)).embed(jnp.zeros((1, 5), jnp.int32))


def test_gelu_is_the_exact_erf_form():
    x = jnp.linspace(-12.0, 12.0, 4001)
    reference = jax.nn.gelu(x, approximate=False)  # the erfc form
    np.testing.assert_allclose(gelu(x), reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        gelu(x)[x > 0.5],
        x[x > 0.5] * 0.5 * (1 + jax.scipy.special.erf(x[x > 0.5] / np.sqrt(2.0))),
        rtol=1e-6,
    )
    grad = jax.vmap(jax.grad(gelu))(x)
    grad_reference = jax.vmap(jax.grad(lambda v: jax.nn.gelu(v, approximate=False)))(x)
    np.testing.assert_allclose(grad, grad_reference, rtol=1e-5, atol=1e-6)
    # the tanh approximation differs by up to ~5e-4: the test would notice a switch to it
    assert float(jnp.max(jnp.abs(jax.nn.gelu(x, approximate=True) - reference))) > 1e-4
    assert gelu(x.astype(jnp.bfloat16)).dtype == jnp.bfloat16


def test_pool_by_hand():
    states = jnp.array(
        [
            [[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]],  # last position padded
            [[2.0, 4.0], [0.0, 0.0], [4.0, 2.0]],  # all real
        ]
    )
    mask = jnp.array([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(pool(states, mask, "mean"), [[2.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(pool(states, mask, "cls"), [[1.0, 0.0], [2.0, 4.0]])
    np.testing.assert_allclose(pool(states, mask, "last"), [[3.0, 2.0], [4.0, 2.0]])
    left_padded = jnp.array([[False, True, True], [True, True, True]])
    np.testing.assert_allclose(pool(states, left_padded, "last"), [[9.0, 9.0], [4.0, 2.0]])
    with pytest.raises(ValueError):
        pool(states, mask, "max")


def test_mlm_head_ties_logits_to_the_embedding_table(model):
    tokens, mask = batch()
    head = MLMHead(64, VOCAB, rngs=nnx.Rngs(1))
    table = model.token_embed.embedding[...]
    states = model(tokens, mask)[-1]
    logits = head(states, table)
    assert logits.shape == (2, 6, VOCAB) and logits.dtype == jnp.float32
    h = head.norm(gelu(head.dense(states)))
    np.testing.assert_allclose(logits, h @ table.T + head.bias[...], atol=1e-5)

    # The gradient of a token-prediction loss reaches the one shared table.
    def loss(table):
        return head(states, table)[..., 3].sum()

    assert np.abs(np.asarray(jax.grad(loss)(table))).sum() > 0


def test_projection_head_shapes():
    x = jnp.ones((3, 64))
    assert ProjectionHead(64, 16, rngs=nnx.Rngs(0))(x).shape == (3, 16)
    assert ProjectionHead(64, 16, hidden_dim=32, rngs=nnx.Rngs(0))(x).shape == (3, 16)
