"""word2vec (skip-gram, negative sampling) on the built-in synthetic world.

Command (2-core CPU, about 1-2 minutes including the one-off world generation):
    python launch.py experiments/word2vec.py --workdir runs/word2vec

Expected: synthetic_analogy/accuracy >= 0.95 and synthetic_similarity/spearman >= 0.8, printed as a
table and written to runs/word2vec/results.{json,md}, with vectors.txt and plots/.

On a real corpus, with gensim's defaults and the standard benchmarks (see README for where to get
them):
    python launch.py experiments/word2vec.py --workdir runs/w2v_corpus \\
        --set data.source=corpus.txt \\
        --set evals.ws353.kind=word_similarity --set evals.ws353.path=wordsim353.tsv \\
        --set evals.google.kind=analogy --set evals.google.path=questions-words.txt
Use --set model.kind=cbow for CBOW.
"""

from research.config import Config


def get_config() -> Config:
    config = Config(name="word2vec")
    config.model.kind = "skipgram"
    config.model.dim = 100
    config.data.source = "synthetic"
    config.data.window = 5
    config.data.negatives = 5
    config.data.sample = 1e-3
    config.data.min_count = 5
    config.train.epochs = 5
    return config
