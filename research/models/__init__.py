"""Model families."""

from research.models.word2vec import Word2Vec

__all__ = ["Word2Vec"]
