"""Reproduction 3: unsupervised SimCSE (Gao, Yao and Chen 2021) at CPU scale, on real prose.

Command (2-core CPU; about 45 minutes with the defaults, 2 M data tokens per method; the
90-minute budget of the issue is --set token_budget=4000000; build the prose first with
`bash ../shared/tools/build_corpus.sh`):
    python launch.py experiments/repro_simcse.py --workdir runs/repro_simcse

Trains the same `tiny` encoder on the same real prose (`prose.jsonl`: novels, Bible chapters,
documentation, fortunes, dictionary entries; 7.8 M whitespace tokens) with five recipes, each
reading the same number of data tokens (`token_budget`; a method's steps = its share of the
budget / the tokens one of its steps reads, measured on its own batches), 3 seeds each:
  mlm              (a) masked-token prediction only (BERT), sentence vector = mean of the last layer
  simcse           (b) unsupervised SimCSE from scratch: the same sentence twice, dropout as the
                       only noise, in-batch negatives, temperature 0.05
  neighbour        (c) neighbouring-sentence contrastive (cpt-text): the next sentence is the
                       positive
  mlm_then_simcse  (d) staged: `mlm_half` (MLM on half the budget), then SimCSE from its weights
                       on the other half (`train.init_from`; optimizer fresh)
  mlm+simcse       (e) both losses summed on every step
and scores every run and the word-vector baselines (TF-IDF, averaged and SIF word2vec trained on
the same prose) with the real evaluation suite (`evals=real`: STS-B dev/test, WordNet WiC-style
pairs, definition -> word retrieval, hypernym-depth probes) plus SimCSE's geometry measures on
STS-B (alignment of pairs scored >= 4 and uniformity of all sentences; lower is better for
both). Writes comparison.md/.csv (mean ± std over seeds), plots, and each run's workdir; it
resumes where it stopped.

SimCSE's findings under test: (1) dropout noise alone makes a good positive; (2) it beats
MLM-only embeddings on STS by a wide margin (the paper: unsupervised SimCSE-BERT-base 76.85 on
STS-B test and 76.25 averaged over 7 STS tasks, against far lower scores for the averaged or
[CLS] embeddings of the same *pretrained* BERT in its Table 5); (3) MLM embeddings are
anisotropic (poor uniformity) and contrastive training spreads them out, keeping alignment.
Differences from the paper, by design of the CPU budget: a 372,576-parameter encoder (`tiny` with
the prose's 4,000-token WordPiece vocabulary; 231,591 on the synthetic world) trained from
scratch (the paper fine-tunes pretrained BERT-base: see experiments/simcse_bert_base.py), 7.8 M
tokens of mixed prose instead of 1 M Wikipedia sentences, mean pooling for every method (the
paper: [CLS] with an MLP during training), and a budget of data tokens, not of steps.

Larger hardware: --set encoder.model.size=mini --set token_budget=40000000 (a GPU: size=small or
base, budget in the hundreds of millions); --set seeds=[0] for a first look.
"""

import os
from pathlib import Path

from research.compare import CompareConfig, run_comparison

run = run_comparison  # launch.py calls it instead of a model family's trainer

PROSE = Path(os.environ.get("STRATA_BENCH_CORPUS", "~/.cache/strata-bench-corpus")) / "prose.jsonl"
SIMCSE = {"objective.kind": "contrastive", "objective.positives": "dropout"}


def get_config() -> CompareConfig:
    config = CompareConfig(name="repro_simcse")
    config.objectives = ["mlm"]
    config.methods = {
        "simcse": dict(SIMCSE),
        "neighbour": {"objective.kind": "contrastive", "objective.positives": "neighbour"},
        "mlm_half": {"objective.kind": "mlm", "budget": 0.5},
        "mlm_then_simcse": {**SIMCSE, "init_from": "mlm_half", "budget": 0.5},
        "mlm+simcse": {**SIMCSE, "objective.kind": "mlm+contrastive"},
    }
    config.token_budget = 2_000_000
    config.seeds = [0, 1, 2]
    config.baselines = ["tfidf", "word2vec", "sif"]
    enc = config.encoder
    enc.data.source = str(PROSE.expanduser())
    enc.model.size = "tiny"
    enc.model.pooling = "mean"
    enc.evals = {"real": {"kind": "suite"}}  # --set encoder.evals=real
    enc.objective.temperature = 0.05
    enc.train.batch_size = 32
    enc.train.sentence_batch_size = 64
    enc.train.learning_rate = 1e-3
    enc.train.warmup_steps = 50
    enc.train.log_every = 50
    enc.train.checkpoint_every = 500
    config.word2vec.data.source = enc.data.source
    config.log.progress = False
    return config
