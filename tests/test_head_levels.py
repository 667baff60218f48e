"""eval.head_levels: the multi-abstraction head's own embeddings under the sentence and
word-in-context evaluators, beside the pooled encoder's (issue 15, item 4)."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from research.data import tokenizer as tok
from research.embed import load_encoder
from research.errors import UserError
from research.eval.embedder import HeadLevelView
from research.train import encoder as encoder_loop
from tests.shared_runs import built_once
from tests.test_multilevel import tiny_config

SENTENCES = ["the bank of the river was wet", "she paid the bank a fee", "a cold wind blew"]


@pytest.fixture(scope="module")
def head_run(tmp_path_factory):
    """Four steps of multi_abstraction with the synthetic world's default suite, the head's token
    level (per position) and document level (whole texts) scored too; one block, as the checks
    read labels and plumbing, not depth."""
    config = tiny_config(
        **{
            "model.layers": 1,
            "objective.kind": "multi_abstraction",
            "train.steps": 4,
            "train.log_every": 2,
            "train.checkpoint_every": 4,
            "eval.default_suite": "true",
            "eval.probe_folds": 2,
            "eval.head_levels": "[token,document]",
        }
    )
    return built_once(
        tmp_path_factory,
        "head_levels",
        lambda workdir: encoder_loop.train_and_evaluate(config, workdir),
    )


def test_every_reading_evaluator_scores_each_head_level_labelled(head_run):
    workdir, results = head_run
    sentence_evals = {k.split("/")[0] for k in results if k.endswith("/spearman")}
    assert sentence_evals, "the synthetic suite has a sentence-similarity evaluator"
    base = {name for name in sentence_evals if "@" not in name}
    for level in ("token", "document"):
        # STS and retrieval read whole texts: every level gives them a vector.
        assert {f"{name}@head_{level}" for name in base} <= sentence_evals
    # Word-in-context evaluators read per-position predictions: token (and span) levels only.
    sense = {k.split("/")[0] for k in results if k.endswith("/roc_auc")}
    plain = {name for name in sense if "@" not in name}
    assert plain, "the synthetic suite has a word-sense evaluator"
    for name in plain:
        assert f"{name}@head_token" in sense
        assert f"{name}@head_document" not in sense
    # The head's readings are different numbers from the encoder's (not the same vectors).
    name = sorted(base)[0]
    assert results[f"{name}@head_document/spearman"] != results[f"{name}/spearman"]
    text = (workdir / "results.md").read_text()
    assert "The head's document level (eval.head_levels)" in text
    saved = json.loads((workdir / "results.json").read_text())
    assert f"{name}@head_document/spearman" in json.dumps(saved)


def test_head_views_read_the_head_not_the_encoder(head_run):
    workdir, _ = head_run
    encoder = load_encoder(workdir)
    sentence = HeadLevelView(encoder, "sentence")
    np.testing.assert_allclose(
        sentence.embed_sentences(SENTENCES), encoder.embed_level(SENTENCES, "sentence")
    )
    assert not np.allclose(
        sentence.embed_sentences(SENTENCES)[:, : encoder.embed_sentences(SENTENCES).shape[1]],
        encoder.embed_sentences(SENTENCES),
    )
    with pytest.raises(UserError, match="whole texts, not words in context"):
        sentence.embed_spans(SENTENCES, [(4, 8)] * 3)


def test_token_level_spans_average_the_heads_position_predictions(head_run):
    workdir, _ = head_run
    encoder = load_encoder(workdir)
    model = encoder_model(workdir)
    view = HeadLevelView(encoder, "token")
    spans = [(4, 8), (13, 17), (2, 6)]  # "bank", "bank", "cold"
    got = view.embed_spans(SENTENCES, spans)
    ids, offsets = encoder._encode(SENTENCES)
    tokens = encoder._batch(ids)
    predictions = np.asarray(
        model.level_token_predictions(jnp.asarray(tokens), jnp.asarray(tokens != tok.PAD), "token")
    )
    for row, ((start, end), token_spans) in enumerate(zip(spans, offsets, strict=True)):
        hits = [1 + i for i, (a, b) in enumerate(token_spans) if a < end and b > start]
        assert hits
        np.testing.assert_allclose(got[row], predictions[row, hits].mean(0), rtol=1e-5, atol=1e-6)
    # The text's token-level embedding is the mean of the same predictions over its words.
    words = (tokens != tok.PAD) & (tokens >= len(tok.SPECIAL_TOKENS))
    means = (predictions * words[..., None]).sum(1) / np.maximum(words.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(
        view.embed_sentences(SENTENCES), means[: len(SENTENCES)], rtol=1e-5, atol=1e-6
    )


def encoder_model(workdir):
    from flax import nnx

    encoder = load_encoder(workdir)
    return nnx.merge(encoder._graphdef, encoder._params)


def test_head_levels_are_checked_before_training(tmp_path):
    for overrides, message in [
        ({"objective.kind": "mlm", "eval.head_levels": "[sentence]"}, "needs the multi-abs"),
        ({"eval.head_levels": "[sentence,clause]"}, "names clause"),
    ]:
        with pytest.raises(UserError, match=message) as error:
            encoder_loop.train_and_evaluate(tiny_config(**overrides), tmp_path / "x")
        assert "\n" not in str(error.value)
        assert not (tmp_path / "x" / "checkpoints").exists()


def test_comparison_shows_each_head_reading_as_a_labelled_row():
    from research.compare import aggregate, with_head_readings

    runs = [
        {"synthetic_sts/spearman": 0.5, "synthetic_sts@head_document/spearman": 0.4,
         "synthetic_sts@head_token/spearman": 0.3, "synthetic_sense@head_token/accuracy": 0.6},
        {"synthetic_sts/spearman": 0.7, "synthetic_sts@head_document/spearman": 0.2,
         "synthetic_sts@head_token/spearman": 0.1, "synthetic_sense@head_token/accuracy": 0.8},
    ]  # fmt: skip
    rows = with_head_readings({"ma": runs, "mlm": [{"synthetic_sts/spearman": 0.1}]})
    assert list(rows) == ["ma", "ma · head token", "ma · head document", "mlm"]
    table = aggregate(rows)
    assert table["ma · head document"]["synthetic_sts/spearman"][0] == pytest.approx(0.3)
    assert table["ma · head token"]["synthetic_sense/accuracy"][0] == pytest.approx(0.7)
    assert "synthetic_sense/accuracy" not in table["ma · head document"]
    assert table["ma"]["synthetic_sts/spearman"][0] == pytest.approx(0.6)


def test_ablation_experiment_changes_one_thing_per_method_from_the_comparison():
    import dataclasses

    import launch
    from research.compare import encoder_run_config

    ablations = launch.load_experiment("experiments/multi_abstraction_ablations.py").get_config()
    reference = launch.load_experiment("experiments/compare_objectives.py").get_config()
    assert ablations.encoder.eval.head_levels == ["all"]
    assert dataclasses.replace(ablations.encoder.eval, head_levels=[]) == reference.encoder.eval
    assert ablations.encoder.train == reference.encoder.train
    assert ablations.seeds == reference.seeds == [0, 1, 2]
    full = encoder_run_config(ablations, "multi_abstraction", 0)
    for method, spec in ablations.methods.items():
        run = encoder_run_config(ablations, method, 0, spec)
        changed = {
            f.name
            for f in dataclasses.fields(run.objective)
            if getattr(run.objective, f.name) != getattr(full.objective, f.name)
        }
        expected = {
            "regression_only": {"nce_weight"},
            "with_contexts": {"context_weight"},
        }.get(method, {"levels"})
        assert changed == expected, method
        encoder_loop.validate(run)  # every method's settings are accepted before training
