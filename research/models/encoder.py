"""A pre-norm transformer encoder that returns every layer's states.

Architecture: token embeddings (+ learned or fixed sinusoidal positions, or rotary positions
applied to queries and keys), then N blocks of

    x = x + Dropout(Attention(LayerNorm(x)))      # multi-head self-attention, written with einsum
    x = x + Dropout(MLP(LayerNorm(x)))            # dense -> gelu -> dense

and a final LayerNorm. Pre-norm (GPT-2, most recent encoders) trains stably without warm-up
tricks; the final LayerNorm is what makes the last state comparable in scale to a post-norm model.

`norm="post"` is BERT's placement instead, for checkpoints imported from Hugging Face
(research/checkpoints/hf.py):

    x = LayerNorm(x + Dropout(Attention(x)))
    x = LayerNorm(x + Dropout(MLP(x)))

with no final LayerNorm (the last block's norm is the last op). BERT also adds token-type
embeddings (`token_types`: rows of the table; every token is type 0, as for one segment) and
normalises the summed embeddings (`embed_norm`, followed by dropout), with LayerNorm epsilon
1e-12 (`norm_eps`). The defaults (pre, 0, False, 1e-6 = Flax's) leave every other model as it was.

Dropout randomness (Flax NNX 0.12.8). The model stores no RNG state: every `nnx.Dropout` is built
without `rngs`, so `nnx.split(model)` yields only `Param`s and a jitted functional train step
(split once, merged inside the step) carries no RNG counters in its state. Randomness is passed
per call instead:

    states = model(tokens, mask, deterministic=False, rngs=nnx.Rngs(dropout=key))
    # or simply rngs=key (a jax key), which is wrapped into nnx.Rngs(dropout=key) here

Inside a jitted step `key = jax.random.fold_in(base_key, step)`, so a resumed run draws the same
masks. Each dropout site draws `rngs.dropout()`, which folds in an incrementing counter, so
sites and layers get independent masks from one key. `deterministic=True` (the default) never
touches `rngs`; eval code can omit it. We pass `deterministic` per call rather than using
`nnx.view(model, deterministic=...)`, so one merged model serves train and eval in the same trace.

Mixed precision: parameters are always float32; `dtype="bfloat16"` casts them (and the
activations) to bfloat16 inside the forward pass. LayerNorm statistics, attention softmax and
attention logits accumulate in float32.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from research.errors import UserError

POSITIONS = ("learned", "sinusoidal", "rotary")
DTYPES = ("float32", "bfloat16")
NORMS = ("pre", "post")
DEFAULT_NORM_EPS = 1e-6  # nnx.LayerNorm's default, which every pre-norm model was trained with

# BERT's initialiser for every weight matrix and embedding. It also keeps the tied MLM logits
# (unit-scale LayerNorm output · embedding rows) near zero at init, so the initial loss is
# close to log(vocab_size).
INIT_STD = 0.02

# name -> (dim, layers, heads, mlp_dim); "base" is BERT-base's shape (~110 M parameters).
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"dim": 64, "layers": 2, "heads": 2, "mlp_dim": 256},
    "mini": {"dim": 256, "layers": 4, "heads": 4, "mlp_dim": 1024},
    "small": {"dim": 512, "layers": 4, "heads": 8, "mlp_dim": 2048},
    "base": {"dim": 768, "layers": 12, "heads": 12, "mlp_dim": 3072},
}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int
    dim: int = 256
    layers: int = 4
    heads: int = 4
    mlp_dim: int = 1024
    max_len: int = 128
    dropout: float = 0.1
    positions: str = "learned"  # "learned" | "sinusoidal" | "rotary"
    dtype: str = "float32"  # compute dtype: "float32" | "bfloat16" (params stay float32)
    # Dropout on the attention probabilities (BERT: 0.1); 0 = none, and no dropout site at all,
    # so the dropout keys (and masks) of models without it are as they always were.
    attention_dropout: float = 0.0
    norm: str = "pre"  # "pre" | "post" (BERT's): where each block's LayerNorms sit
    token_types: int = 0  # rows of a token-type table (BERT: 2); 0 = none
    embed_norm: bool = False  # LayerNorm (+ dropout) on the summed embeddings (BERT)
    norm_eps: float = DEFAULT_NORM_EPS

    def __post_init__(self):
        # Fail at construction, before anything is traced, with a message that names the fix.
        if self.positions not in POSITIONS:
            raise UserError(f"positions={self.positions!r}; choose one of {POSITIONS}")
        if self.dtype not in DTYPES:
            raise UserError(f"dtype={self.dtype!r}; choose one of {DTYPES}")
        if self.dim % self.heads:
            raise UserError(f"dim {self.dim} is not divisible by heads {self.heads}")
        if self.positions == "rotary" and (self.dim // self.heads) % 2:
            raise UserError(f"rotary positions need an even head dim, got {self.dim // self.heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout={self.dropout} must be in [0, 1)")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise UserError(f"attention_dropout={self.attention_dropout} must be in [0, 1)")
        if self.norm not in NORMS:
            raise UserError(f"norm={self.norm!r}; choose one of {NORMS}")
        if self.token_types < 0:
            raise UserError(f"token_types={self.token_types} must be >= 0 (0 = no table)")

    @classmethod
    def from_size(cls, size: str, vocab_size: int, **overrides) -> EncoderConfig:
        """A named size from SIZES; `overrides` replace any field (e.g. max_len=512)."""
        if size not in SIZES:
            raise UserError(f"unknown encoder size {size!r}; choose one of {sorted(SIZES)}")
        return cls(vocab_size=vocab_size, **{**SIZES[size], **overrides})

    @property
    def compute_dtype(self) -> jnp.dtype:
        return jnp.dtype(self.dtype)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


def sinusoidal_table(length: int, dim: int) -> jax.Array:
    """(length, dim) fixed positions: sin in the first half of the features, cos in the second.

    The [sin | cos] split is the Vaswani table with its features permuted, which changes nothing
    for a learned model. The table is scaled so its entries have the same RMS as the token
    embeddings at init (INIT_STD); unscaled (RMS 0.7) it would swamp 0.02-scale token vectors.
    """
    half = dim // 2
    inv_freq = 1.0 / (10_000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    table = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
    table = jnp.pad(table, ((0, 0), (0, dim - 2 * half)))  # odd dim: one zero feature
    return table * (INIT_STD * math.sqrt(2.0))


def apply_rotary(x_BLHK: jax.Array) -> jax.Array:
    """Rotate feature pairs (i, i + K/2) of each head by angle position · θ_i (RoFormer, NeoX).

    Applied to queries and keys, q_t · k_s then depends on positions only through t - s.
    Computed in float32 (bfloat16 angles lose the position resolution at long lengths).
    """
    length, head_dim = x_BLHK.shape[1], x_BLHK.shape[-1]
    half = head_dim // 2
    inv_freq = 1.0 / (10_000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angles_LK = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    cos = jnp.cos(angles_LK)[None, :, None, :]
    sin = jnp.sin(angles_LK)[None, :, None, :]
    x = x_BLHK.astype(jnp.float32)
    x1, x2 = x[..., :half], x[..., half:]
    rotated = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return rotated.astype(x_BLHK.dtype)


def gelu(x: jax.Array) -> jax.Array:
    """Exact gelu, x · Φ(x) = x/2 · (1 + erf(x/√2)), the formula BERT and PyTorch use.

    Not `jax.nn.gelu(approximate=False)`: that evaluates erfc(-x/√2), whose XLA CPU kernel
    (exp plus branch selects) made the forward gelu ~5 % of the mini encoder's train step;
    erf is one clamped rational polynomial. The two agree to float32 rounding except for
    x below about -5, where both are within 1e-6 of 0.
    """
    return 0.5 * x * (1.0 + jax.lax.erf(x * (1.0 / math.sqrt(2.0))).astype(x.dtype))


def _as_rngs(rngs: nnx.Rngs | jax.Array | None) -> nnx.Rngs | None:
    # A bare key is the convenient form inside jax.jit; Rngs gives each dropout site its own key.
    if rngs is None or isinstance(rngs, nnx.Rngs):
        return rngs
    return nnx.Rngs(dropout=rngs)


class SelfAttention(nnx.Module):
    """Multi-head self-attention; projections are (D, H, K) / (H, K, D) kernels used by einsum."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        D, H, K = config.dim, config.heads, config.head_dim
        init = nnx.initializers.truncated_normal(INIT_STD)
        self.query = nnx.Param(init(rngs.params(), (D, H, K), jnp.float32))
        self.key = nnx.Param(init(rngs.params(), (D, H, K), jnp.float32))
        self.value = nnx.Param(init(rngs.params(), (D, H, K), jnp.float32))
        self.out = nnx.Param(init(rngs.params(), (H, K, D), jnp.float32))
        self.query_bias = nnx.Param(jnp.zeros((H, K), jnp.float32))
        self.key_bias = nnx.Param(jnp.zeros((H, K), jnp.float32))
        self.value_bias = nnx.Param(jnp.zeros((H, K), jnp.float32))
        self.out_bias = nnx.Param(jnp.zeros((D,), jnp.float32))
        self.rotary = config.positions == "rotary"
        self.dtype = config.compute_dtype
        self.dropout = nnx.Dropout(config.attention_dropout) if config.attention_dropout else None

    def __call__(
        self,
        x_BLD: jax.Array,
        mask_BQS: jax.Array,
        deterministic: bool = True,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """mask_BQS (B, L, L) bool: query position q may attend to key position s."""
        dt = self.dtype
        q = jnp.einsum("bld,dhk->blhk", x_BLD, self.query[...].astype(dt))
        k = jnp.einsum("bld,dhk->blhk", x_BLD, self.key[...].astype(dt))
        v = jnp.einsum("bld,dhk->blhk", x_BLD, self.value[...].astype(dt))
        q = q + self.query_bias[...].astype(dt)
        k = k + self.key_bias[...].astype(dt)
        v = v + self.value_bias[...].astype(dt)
        if self.rotary:
            q, k = apply_rotary(q), apply_rotary(k)
        scale = 1.0 / math.sqrt(q.shape[-1])
        logits_BHQS = (
            jnp.einsum("bqhk,bshk->bhqs", q, k, preferred_element_type=jnp.float32) * scale
        )
        # A finite minimum, not -inf: a row with no allowed key (a padded query under the causal
        # mask) then gets uniform weights instead of NaN. Allowed keys exceed it by ~3e38, so
        # exp() of a masked logit is exactly 0 and masked keys contribute exactly nothing.
        logits_BHQS = jnp.where(mask_BQS[:, None], logits_BHQS, jnp.finfo(jnp.float32).min)
        weights_BHQS = jax.nn.softmax(logits_BHQS, axis=-1).astype(dt)
        if self.dropout is not None:
            weights_BHQS = self.dropout(weights_BHQS, deterministic=deterministic, rngs=rngs)
        attended_BQHK = jnp.einsum("bhqs,bshk->bqhk", weights_BHQS, v)
        y = jnp.einsum("blhk,hkd->bld", attended_BQHK, self.out[...].astype(dt))
        return y + self.out_bias[...].astype(dt)


class MLP(nnx.Module):
    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        init = nnx.initializers.truncated_normal(INIT_STD)
        kw = {"dtype": config.compute_dtype, "kernel_init": init, "rngs": rngs}
        self.up = nnx.Linear(config.dim, config.mlp_dim, **kw)
        self.down = nnx.Linear(config.mlp_dim, config.dim, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.down(gelu(self.up(x)))


class Block(nnx.Module):
    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        dt = config.compute_dtype
        eps = config.norm_eps
        self.attention_norm = nnx.LayerNorm(config.dim, epsilon=eps, dtype=dt, rngs=rngs)
        self.attention = SelfAttention(config, rngs=rngs)
        self.mlp_norm = nnx.LayerNorm(config.dim, epsilon=eps, dtype=dt, rngs=rngs)
        self.mlp = MLP(config, rngs=rngs)
        # No rngs stored: keys come with each call (module docstring).
        self.dropout = nnx.Dropout(config.dropout)
        self.post_norm = config.norm == "post"

    def __call__(
        self, x: jax.Array, mask_BQS: jax.Array, deterministic: bool, rngs: nnx.Rngs | None
    ) -> jax.Array:
        drop = lambda h: self.dropout(h, deterministic=deterministic, rngs=rngs)  # noqa: E731
        attend = lambda h: self.attention(h, mask_BQS, deterministic, rngs)  # noqa: E731
        if self.post_norm:  # BERT: normalise after each residual add
            x = self.attention_norm(x + drop(attend(x)))
            return self.mlp_norm(x + drop(self.mlp(x)))
        x = x + drop(attend(self.attention_norm(x)))
        return x + drop(self.mlp(self.mlp_norm(x)))


class Encoder(nnx.Module):
    """Transformer encoder; `token_embed.embedding` is the table the MLM head ties its logits to."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.config = config
        dt = config.compute_dtype
        init = nnx.initializers.normal(INIT_STD)
        self.token_embed = nnx.Embed(
            config.vocab_size, config.dim, dtype=dt, embedding_init=init, rngs=rngs
        )
        if config.positions == "learned":
            self.position_embed = nnx.Embed(
                config.max_len, config.dim, dtype=dt, embedding_init=init, rngs=rngs
            )
        if config.token_types:
            self.type_embed = nnx.Embed(
                config.token_types, config.dim, dtype=dt, embedding_init=init, rngs=rngs
            )
        if config.embed_norm:
            self.embed_norm = nnx.LayerNorm(
                config.dim, epsilon=config.norm_eps, dtype=dt, rngs=rngs
            )
            self.embed_dropout = nnx.Dropout(config.dropout)
        self.blocks = nnx.List([Block(config, rngs=rngs) for _ in range(config.layers)])
        # Post-norm blocks end in a LayerNorm already; a final one would change BERT's states.
        if config.norm == "pre":
            self.final_norm = nnx.LayerNorm(
                config.dim, epsilon=config.norm_eps, dtype=dt, rngs=rngs
            )

    def embed(self, tokens: jax.Array, token_types: jax.Array | None = None) -> jax.Array:
        """(B, L) ids -> (B, L, D) input states: token embeddings plus absolute positions, if any
        (and, with a token-type table, the embeddings of `token_types`, default all type 0; with
        embed_norm, then LayerNorm: BERT's embedding output).

        Separate from `encode` so tests (and attribution tools) can differentiate with respect to
        the input states.
        """
        length = tokens.shape[1]
        if length > self.config.max_len:
            raise UserError(f"sequence length {length} exceeds max_len {self.config.max_len}")
        x = self.token_embed(tokens)
        if self.config.positions == "learned":
            x = x + self.position_embed(jnp.arange(length))[None]
        elif self.config.positions == "sinusoidal":
            x = x + sinusoidal_table(length, self.config.dim).astype(x.dtype)[None]
        if self.config.token_types:
            if token_types is None:
                token_types = jnp.zeros_like(tokens)
            x = x + self.type_embed(token_types)
        if self.config.embed_norm:
            x = self.embed_norm(x)
        return x

    def encode(
        self,
        x: jax.Array,
        padding_mask: jax.Array,
        *,
        causal: bool = False,
        deterministic: bool = True,
        rngs: nnx.Rngs | jax.Array | None = None,
    ) -> list[jax.Array]:
        """Run the blocks on input states x (B, L, D); returns [x, block_1, ..., final-normed]."""
        rngs = _as_rngs(rngs)
        if not deterministic and self.config.dropout > 0 and rngs is None:
            raise ValueError("deterministic=False needs rngs (an nnx.Rngs or a dropout key)")
        length = x.shape[1]
        # Keys must be real tokens; padded queries are computed but never read by real ones.
        mask_BQS = jnp.broadcast_to(padding_mask[:, None, :], (x.shape[0], length, length))
        if causal:
            mask_BQS = mask_BQS & jnp.tril(jnp.ones((length, length), bool))[None]
        states = [x]
        if self.config.embed_norm:  # BERT drops out its normalised embeddings
            x = self.embed_dropout(x, deterministic=deterministic, rngs=rngs)
        for block in self.blocks:
            x = block(x, mask_BQS, deterministic, rngs)
            states.append(x)
        if self.config.norm == "pre":
            states[-1] = self.final_norm(x)
        return states

    def __call__(
        self,
        tokens: jax.Array,
        padding_mask: jax.Array,
        *,
        causal: bool = False,
        deterministic: bool = True,
        rngs: nnx.Rngs | jax.Array | None = None,
    ) -> list[jax.Array]:
        """tokens (B, L) int32, padding_mask (B, L) bool (True = real token).

        Returns every layer's states: [embeddings, block_1, ..., block_N], each (B, L, dim) in
        the compute dtype; the last entry has the final LayerNorm applied (pre-norm). For a
        post-norm model these are exactly BERT's `hidden_states`.
        """
        return self.encode(
            self.embed(tokens),
            padding_mask,
            causal=causal,
            deterministic=deterministic,
            rngs=rngs,
        )


def count_params(module: nnx.Module) -> int:
    """Number of parameter scalars; works on `nnx.eval_shape` results, so it costs no memory."""
    return sum(int(math.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))
