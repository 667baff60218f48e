"""Unsupervised SimCSE at the paper's scale (Gao, Yao, Chen 2021, "SimCSE: Simple Contrastive
Learning of Sentence Embeddings"): BERT-base, 1 M Wikipedia sentences, dropout as the only noise.

Command (one GPU; needs the Hugging Face hub for the data and the evaluation sets):
    python launch.py experiments/simcse_bert_base.py --workdir runs/simcse_bert_base

Offline, with the STS Benchmark files on disk and wiki1m_for_simcse.txt downloaded:
    python launch.py experiments/simcse_bert_base.py --workdir runs/simcse_bert_base \
        --set data.source=PATH/wiki1m_for_simcse.txt --set evals={} \
        --set evals.stsb_dev.kind=sentence_similarity \
        --set evals.stsb_dev.path=../shared/data/sentence/stsbenchmark/sts-dev.csv \
        --set evals.stsb_test.kind=sentence_similarity \
        --set evals.stsb_test.path=../shared/data/sentence/stsbenchmark/sts-test.csv

The recipe, as in the paper's unsupervised setting and its released training script:
- data: princeton-nlp's wiki1m_for_simcse.txt (1 M sentences from English Wikipedia), one
  sentence per row (`data.sentences=rows`: rows are not split), through `hf:` (the hub dataset's
  default config is that text file; not verified from this machine, which has no hub access);
- model: pretrained BERT-base-uncased (12 layers, 768 wide, 12 heads), [CLS] pooling; during
  training an MLP (dense -> tanh) over [CLS], started fresh, feeds the loss, and it is dropped
  for evaluation (the embedding is [CLS] of the last layer, `model.projection=mlp`; the
  paper's "MLP during training only");
- objective: InfoNCE between two dropout views of each sentence (BERT's dropout: 0.1 on the
  hidden states and on the attention probabilities), in-batch
  negatives, temperature 0.05;
- batch 64 sentences, max length 32 tokens, learning rate 3e-5 decayed linearly to 0 with no
  warmup (the transformers Trainer default the paper used), AdamW without weight decay, gradients
  clipped at norm 1, 1 epoch = 15,625 steps;
- model selection: STS-B dev Spearman every 125 steps, best checkpoint kept (`eval.every=125`,
  `eval.select=stsb_dev/spearman`; the weights in best/ are then evaluated and loaded);
- evaluation: STS-B test and the 7 STS tasks (STS12-16, STS-B, SICK-R) from the hub.

Differences from the paper, all stated in the run's config: none in the starting point: the run
starts from pretrained BERT-base-uncased (`train.init_from=hf:bert-base-uncased`, downloaded once
from the hub; offline, pass a local copy: `--set train.init_from=PATH/bert-base-uncased`), whose
shape, post-norm layers, 512 positions and WordPiece vocabulary replace the model and tokeniser
settings below (research/checkpoints/hf.py; `--set train.init_from=` trains from scratch with a
vocabulary trained on the corpus, and expect far lower numbers then: SimCSE's gain comes on top
of BERT's pretraining). Batches are drawn at random for each step
(the same number of sentences as one epoch, not one shuffled pass). Our MTEB-style STS12-16
scores average each hub dataset's test split, while SentEval's "all" setting of the paper pools
their subsets. Not yet run: no session has had the hub or a GPU for it.

The paper's numbers (unsupervised SimCSE-BERT-base, Table 5): STS-B test Spearman 76.85, the
7-task average 76.25. Expected cost (not measured: no GPU was lent to the session that wrote
this): 15,625 steps of 2 x 64 sequences of 32 tokens, about 6 x 110 M parameters x 4,096 tokens =
2.7 TFLOP per step, 42 PFLOP in all: about 6 minutes at 120 TFLOP/s (bfloat16 on one A100 at ~40 %
utilisation; `--set model.dtype=bfloat16`), more in float32 or where the small batches leave the
GPU underused, plus 125 STS-B dev evaluations of 3,000 sentences each (a few per cent of
training's compute). On this project's 2-core CPU the `base` encoder does not fit the budget.
"""

import optax

from research.config import EncoderRunConfig

STS_TASKS = {
    "sts12": "hf:mteb/sts12-sts::test",
    "sts13": "hf:mteb/sts13-sts::test",
    "sts14": "hf:mteb/sts14-sts::test",
    "sts15": "hf:mteb/sts15-sts::test",
    "sts16": "hf:mteb/sts16-sts::test",
    "stsb_test": "hf:sentence-transformers/stsb::test",
    "sickr": "hf:mteb/sickr-sts::test",
}


def get_config() -> EncoderRunConfig:
    config = EncoderRunConfig(name="simcse_bert_base")
    config.data.source = "hf:princeton-nlp/datasets-for-simcse"
    config.data.text_field = "text"
    config.data.sentences = "rows"
    config.data.sentence_len = 32
    config.data.max_len = 32
    config.data.vocab_size = 30522
    # Pretrained BERT-base-uncased, as the paper: its shape (base, post-norm, 512 positions) and
    # its WordPiece vocabulary replace the model and tokeniser settings (checkpoints/hf.py).
    config.train.init_from = "hf:bert-base-uncased"
    config.model.size = "base"
    config.model.pooling = "cls"
    config.model.projection = "mlp"
    config.model.dropout = 0.1
    config.model.attention_dropout = 0.1  # BERT's, which the paper's views also differ by
    config.objective.kind = "contrastive"
    config.objective.positives = "dropout"
    config.objective.temperature = 0.05
    config.train.sentence_batch_size = 64
    config.train.steps = 15_625  # 1 M sentences / 64
    config.train.learning_rate = 3e-5
    config.train.warmup_steps = 0
    config.train.weight_decay = 0.0
    config.train.log_every = 125
    config.train.checkpoint_every = 1250
    config.eval.default_suite = False
    config.eval.every = 125
    config.eval.select = "stsb_dev/spearman"
    config.evals = {
        # The dev split is the default one of the STS evaluator's hub reader.
        "stsb_dev": {"kind": "sentence_similarity", "path": "hf:sentence-transformers/stsb"},
        **{name: {"kind": "sentence_similarity", "path": path} for name, path in STS_TASKS.items()},
    }
    return config


def schedule(config: EncoderRunConfig, total_steps: int) -> optax.Schedule:
    """transformers' default: linear decay from the peak to 0, no warmup."""
    return optax.linear_schedule(config.train.learning_rate, 0.0, max(total_steps, 1))
