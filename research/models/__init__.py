"""Model families."""

from research.models.encoder import Encoder, EncoderConfig, count_params
from research.models.heads import MLMHead, ProjectionHead, pool
from research.models.word2vec import Word2Vec

__all__ = [
    "Encoder",
    "EncoderConfig",
    "MLMHead",
    "ProjectionHead",
    "Word2Vec",
    "count_params",
    "pool",
]
