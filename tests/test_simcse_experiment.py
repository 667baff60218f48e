"""experiments/simcse_bert_base.py: its config is the paper's recipe, and it runs at tiny size
through launch.py, with periodic STS evaluation and the best weights selected."""

import json

import numpy as np
import pytest

import launch
from research.embed import load_encoder
from research.train import encoder as encoder_loop
from research.train.run_weights import load_run_weights

EXPERIMENT = "experiments/simcse_bert_base.py"
WORDS = "the a king queen river bank money loan walked swam sold bought old new red green".split()


def test_the_config_is_the_papers_unsupervised_recipe():
    module = launch.load_experiment(EXPERIMENT)
    config = module.get_config()
    encoder_loop.validate(config)
    assert (config.model.size, config.model.pooling, config.model.projection) == (
        "base",
        "cls",
        "mlp",
    )
    assert (config.objective.kind, config.objective.positives) == ("contrastive", "dropout")
    assert config.objective.temperature == 0.05 and config.model.dropout == 0.1
    assert config.train.sentence_batch_size == 64 and config.train.learning_rate == 3e-5
    assert config.data.sentence_len == 32 and config.data.sentences == "rows"
    assert config.train.steps * config.train.sentence_batch_size >= 1_000_000  # one epoch
    assert (config.eval.every, config.eval.select) == (125, "stsb_dev/spearman")
    assert config.data.source.startswith("hf:") and "stsb_test" in config.evals
    assert config.train.init_from == "hf:bert-base-uncased"  # pretrained BERT, as the paper
    lr = module.schedule(config, config.train.steps)
    assert float(lr(0)) == pytest.approx(3e-5) and float(lr(config.train.steps)) == 0.0


def test_a_tiny_run_evaluates_periodically_and_keeps_the_best_weights(tmp_path):
    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(WORDS, rng.integers(4, 9))) + "." for _ in range(200)]
    corpus = tmp_path / "wiki.txt"
    corpus.write_text("\n".join(sentences) + "\n")
    sts = tmp_path / "sts.csv"
    sts.write_text(
        "".join(
            f"main\tx\t2012\t{i}\t{i % 5}.0\t{sentences[i]}\t{sentences[i + 1 - i % 2]}\n"
            for i in range(12)
        )
    )
    workdir = tmp_path / "run"
    overrides = [
        f"data.source={corpus}",
        "data.vocab_size=300",
        "model.size=tiny",
        "train.init_from=",  # from scratch (tests/test_bert_checkpoints.py starts it from BERT)
        "train.steps=4",
        "train.sentence_batch_size=8",
        "train.log_every=2",
        "train.checkpoint_every=4",
        "eval.every=2",
        "evals={}",
        "evals.stsb_dev.kind=sentence_similarity",
        f"evals.stsb_dev.path={sts}",
        "log.progress=false",
    ]
    args = [EXPERIMENT, "--workdir", str(workdir)]
    assert launch.main(args + [x for o in overrides for x in ("--set", o)]) == 0
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    evaluated = {r["step"]: r["stsb_dev/spearman"] for r in rows if "stsb_dev/spearman" in r}
    assert sorted(evaluated) == [2, 4]
    best_step = max(evaluated, key=lambda step: (evaluated[step], -step))
    weights = load_run_weights(workdir)
    assert (weights.which, weights.step) == ("best", best_step)
    results = json.loads((workdir / "results.json").read_text())
    assert results["stsb_dev/spearman"] == pytest.approx(evaluated[best_step], abs=1e-6)
    assert f"step {best_step} by stsb_dev/spearman" in (workdir / "results.md").read_text()
    assert load_encoder(workdir).embed_sentences(["the king"]).shape == (1, 64)
