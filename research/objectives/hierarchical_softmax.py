"""Hierarchical softmax (word2vec.c -hs 1): a Huffman tree over the vocabulary and the path loss.

Each word is a leaf of a binary Huffman tree built from the counts; its probability is the product
of the binary decisions along the path from the root. The output table holds one vector per inner
node (V - 1 of them, word2vec.c's syn1) instead of one per word. A word's path is padded to the
longest code so that every shape is static; a mask marks the real nodes.

As in word2vec.c, the decision at an inner node has label 1 - code, so the loss of predicting a
word from a hidden vector h is the sum over its path of -log σ((1 - 2·code) ⟨h, syn1[point]⟩).
The losses below take gathered rows and return (sum of losses, number of pairs), like those of
objectives/negative_sampling.py, and use its block layout and neighbour mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from research.objectives import negative_sampling as ns


@dataclass(frozen=True)
class HuffmanTree:
    """Every word's path, padded to the longest: (V, L) arrays, and (V,) code lengths.

    points[w, d] is the inner node (a row of the output table, 0..V-2; V-2 is the root) of the
    d-th decision on w's path, codes[w, d] its code bit (0 or 1); entries d >= lengths[w] are
    padding (0) and masked out of the loss.
    """

    codes: np.ndarray  # (V, L) int8
    points: np.ndarray  # (V, L) int32
    lengths: np.ndarray  # (V,) int32

    @property
    def inner_nodes(self) -> int:
        return self.points.shape[0] - 1

    def mask(self) -> np.ndarray:
        """(V, L) float32: 1 on the real nodes of each path, 0 on the padding."""
        return (np.arange(self.points.shape[1])[None, :] < self.lengths[:, None]).astype(np.float32)

    def signs(self) -> np.ndarray:
        """(V, L) float32: 1 - 2·code (+1 where the label is 1), 0 on the padding."""
        return (1.0 - 2.0 * self.codes.astype(np.float32)) * self.mask()


def huffman_tree(counts: np.ndarray) -> HuffmanTree:
    """word2vec.c's CreateBinaryTree over `counts` (one per word, V >= 2).

    word2vec.c expects its vocabulary sorted by descending count and merges the two smallest
    nodes with two queues (the leaves from the tail, the new inner nodes in order of creation);
    the smaller of the two gets code 0, the other code 1, and inner node V + a is output row a.
    Counts in another order are visited in a stable descending order, so a sorted vocabulary
    (as research/data/corpus.py builds it) gives exactly word2vec.c's tree.
    """
    counts = np.asarray(counts, np.int64)
    vocab = counts.shape[0]
    if vocab < 2:
        raise ValueError(f"a Huffman tree needs at least 2 words, got {vocab}")
    order = np.argsort(-counts, kind="stable")  # tree leaf i is word order[i]
    weight = np.concatenate([counts[order], np.full(vocab - 1, np.iinfo(np.int64).max)])
    parent = np.zeros(2 * vocab - 1, np.int64)
    binary = np.zeros(2 * vocab - 1, np.int8)
    leaf, inner = vocab - 1, vocab  # the next smallest leaf and the next unmerged inner node

    def pop_smallest() -> int:
        nonlocal leaf, inner
        if leaf >= 0 and weight[leaf] < weight[inner]:
            leaf -= 1
            return leaf + 1
        inner += 1
        return inner - 1

    for a in range(vocab - 1):
        first, second = pop_smallest(), pop_smallest()
        weight[vocab + a] = weight[first] + weight[second]
        parent[first] = parent[second] = vocab + a
        binary[second] = 1
    root = 2 * vocab - 2
    paths: list[tuple[list[int], list[int]]] = []
    for i in range(vocab):
        codes, points, node = [], [], i
        while node != root:  # leaf to root; reversed below into root to leaf
            codes.append(int(binary[node]))
            node = int(parent[node])
            points.append(node - vocab)
        paths.append((codes[::-1], points[::-1]))
    longest = max(len(c) for c, _ in paths)
    codes = np.zeros((vocab, longest), np.int8)
    points = np.zeros((vocab, longest), np.int32)
    lengths = np.zeros(vocab, np.int32)
    for i, (code, point) in enumerate(paths):
        word = order[i]
        codes[word, : len(code)] = code
        points[word, : len(point)] = point
        lengths[word] = len(code)
    return HuffmanTree(codes, points, lengths)


def path_log_likelihood(logits: jax.Array, signs: jax.Array) -> jax.Array:
    """log σ((1 - 2·code)·logit) per node; 0 weight on padding is the caller's mask."""
    return jax.nn.log_sigmoid(signs * logits)


def skipgram_hs_loss(
    block_rows: jax.Array,
    path_rows: jax.Array,
    path_signs: jax.Array,
    path_mask: jax.Array,
    pair_mask: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Skip-gram hierarchical-softmax loss summed over the block's pairs.

    As word2vec.c and gensim do for hs, each context word's input row predicts the centre's path.
    block_rows (B + 2w, D) the input rows of the block's tokens (centre b sits at w + b);
    path_rows (B, L, D) the output rows of each centre's path nodes, path_signs and path_mask
    (B, L); pair_mask (B, 2w) from `negative_sampling.offset_mask`. Each centre scores its path
    against its own 2w neighbours. Returns (loss sum, number of pairs).
    """
    batch, window = pair_mask.shape[0], pair_mask.shape[1] // 2
    weights = pair_mask.astype(path_rows.dtype)
    neighbours = jnp.stack(
        [block_rows[window + o : window + o + batch] for o in ns.neighbour_offsets(window)], axis=1
    )
    logits = jnp.einsum("bkd,bld->bkl", neighbours, path_rows)
    per_node = path_log_likelihood(logits, path_signs[:, None, :])
    loss = -jnp.sum(weights[..., None] * path_mask[:, None, :] * per_node)
    return loss, weights.sum()


def cbow_hs_loss(
    hidden: jax.Array,
    path_rows: jax.Array,
    path_signs: jax.Array,
    path_mask: jax.Array,
    context_counts: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """CBOW hierarchical-softmax loss summed over centres that have at least one context word.

    hidden (G, c, D) context means (negative_sampling.cbow_hidden); path_rows (G, c, L, D),
    path_signs and path_mask (G, c, L) of each centre's path. Returns (loss sum, number of
    predicted centres).
    """
    has_context = (context_counts > 0).astype(hidden.dtype)
    logits = jnp.einsum("gid,gild->gil", hidden, path_rows)
    weight = has_context[..., None] * path_mask
    return -jnp.sum(weight * path_log_likelihood(logits, path_signs)), has_context.sum()
