"""strata: contextual and multi-abstraction text embeddings in JAX / Flax NNX."""
