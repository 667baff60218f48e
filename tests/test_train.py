"""word2vec training end to end: golden step, no recompiles, quality, resume, and errors."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import launch
from research import config as config_lib
from research.config import Config
from research.data import blocks as blocks_lib
from research.data import corpus as corpus_lib
from research.data import windows
from research.errors import UserError
from research.train import word2vec as loop
from research.train import word2vec_step
from research.train.loop import step_compiler_options
from research.train.nonfinite import TrainingDiverged
from tests.step_hooks import after_dispatch, send_sigint
from tests.xla_settings import LONG_RUN_STEP, ONE_CHECKPOINT, QUICK_COMPILE_FLAGS


def small_config(**overrides) -> Config:
    config = Config()
    config.data.synthetic_tokens = 100_000
    config.model.dim = 32
    config.train.epochs = 2
    config.train.batch_size = 256
    config.train.steps_per_dispatch = 4
    config.train.log_every = 8
    config.train.checkpoint_every = 16
    config.log.progress = False
    config_lib.apply_overrides(config, [f"{k}={v}" for k, v in overrides.items()])
    return config


def zipf_corpus(path) -> str:
    """A fixed corpus for golden numbers that does not move when the synthetic world does."""
    rng = np.random.default_rng(1234)
    words = [f"w{i}" for i in range(300)]
    probs = 1.0 / np.arange(1, 301)
    ids = rng.choice(300, size=40_000, p=probs / probs.sum())
    lines = [" ".join(words[i] for i in ids[k : k + 40]) for k in range(0, len(ids), 40)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def first_groups(config: Config, count: int):
    corpus = corpus_lib.prepare_corpus(config.data, progress=False)
    stream = blocks_lib.block_stream(corpus, config)
    blocks = [stream.blocks_in_epoch(0)]
    groups = blocks_lib.block_groups(stream, blocks, 0, config.train.steps_per_dispatch)
    return corpus, [next(groups) for _ in range(count)]


# Recorded from this implementation (jax 0.10.2, CPU): pairs per step are exact (data order,
# dynamic window and RNG); the loss after 4 steps guards the update arithmetic. Re-recorded when
# the input table came to be drawn row by row (models/word2vec.py:uniform_rows; before: 3.9786637
# and 4.1504483; across train seeds 0-3 the skip-gram value spans 3.92-4.05 with either draw).
# Re-recorded when the window became per-centre shifted slices (before: 3.9179704 and 4.1480217;
# with train.row_hit_cap=0 both formulations give the same losses to 1e-6, so the change is the
# row-hit count: a block token now counts once, not once per chunk window that holds it).
GOLDEN = {
    "skipgram": {"pairs": [1214, 1266, 1291, 1221], "loss_step_4": 3.8338504},
    # cbow: 16 shared negatives per chunk (the kind default)
    "cbow": {"pairs": [256, 256, 256, 256], "loss_step_4": 4.1445088},
}


def four_steps(config: Config):
    """Four one-block steps from a fresh state: (state, last metrics, losses, pairs, step)."""
    corpus, groups = first_groups(config, 4)
    tx, schedule = word2vec_step.make_optimizer(config, 100)
    graphdef, state = word2vec_step.init_state(config, corpus.vocab_size, tx)
    step = word2vec_step.make_train_step(
        config, graphdef, tx, schedule, windows.noise_distribution(corpus.counts)
    )
    losses, pairs = [], []
    for ids, docs, _ in groups:
        state, metrics = step(state, ids, docs)
        losses.append(float(metrics["loss"]))
        pairs.append(int(metrics["pairs"]))
    return state, metrics, losses, pairs, step


@pytest.mark.parametrize("kind", ["skipgram", "cbow"])
def test_one_step_golden_metrics_and_no_recompiles(kind, tmp_path):
    config = small_config(
        **{
            "model.kind": kind,
            "train.steps_per_dispatch": 1,
            "data.source": zipf_corpus(tmp_path / "zipf.txt"),
            # The rate and cap GOLDEN was recorded at (before skip-gram's defaults changed).
            "train.learning_rate": 0.025,
            "train.row_hit_cap": 16,
        }
    )
    state, metrics, losses, pairs, step = four_steps(config)
    assert pairs == GOLDEN[kind]["pairs"]
    assert losses[-1] == pytest.approx(GOLDEN[kind]["loss_step_4"], abs=2e-6)
    # Output rows start at zero, so every logit is 0: loss = (1 + K) log 2 per pair, exactly.
    assert losses[0] == pytest.approx(6 * math.log(2), rel=1e-6)
    assert losses[-1] < losses[0]
    assert int(state["step"]) == 4
    assert float(metrics["learning_rate"]) == pytest.approx(0.025 - 3 * (0.025 - 1e-4) / 99)
    assert step._cache_size() == 1  # fixed shapes: compiled once


def test_cpu_scheduler_auto_reaches_the_step_and_changes_no_number(tmp_path):
    """train.cpu_scheduler=auto compiles skip-gram at P = 1 with XLA:CPU's memory-optimised
    schedule (XLA's dumped debug options say so) and everything else with XLA's default, the
    concurrency one; the schedule orders operations only, so both give the same state to the
    bit."""
    assert config_lib.word2vec_cpu_scheduler(small_config()) == "memory"
    for overrides in (
        {"model.kind": "cbow"},
        {"train.parallel_blocks": 2},
        {"model.output": "hs", "data.negatives": 0},
        {"train.cpu_scheduler": "concurrency"},
    ):
        assert config_lib.word2vec_cpu_scheduler(small_config(**overrides)) == "concurrency"
    assert (
        config_lib.word2vec_cpu_scheduler(
            small_config(**{"model.kind": "cbow", "train.cpu_scheduler": "memory"})
        )
        == "memory"
    )
    source = zipf_corpus(tmp_path / "zipf.txt")
    tables = {}
    for scheduler in ("auto", "concurrency"):
        dump = tmp_path / f"dump_{scheduler}"
        config = small_config(
            **{
                **LONG_RUN_STEP,  # the compile users get, not the suite's quick flags
                "train.cpu_scheduler": scheduler,
                "train.xla_options.xla_dump_to": str(dump),
                "train.steps_per_dispatch": 1,
                "data.source": source,
            }
        )
        state, *_ = four_steps(config)
        tables[scheduler] = [
            np.asarray(state["params"][name][...])
            for name in ("input_embeddings", "output_embeddings")
        ]
        read = "".join(path.read_text() for path in dump.glob("*train_step*debug_options"))
        assert read
        # "concurrency" is XLA's default schedule, so it is left unset (loop.step_compiler_options)
        memory_set = "xla_cpu_scheduler_type: CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED" in read
        assert memory_set == (scheduler == "auto"), read
    for auto_table, concurrency_table in zip(tables["auto"], tables["concurrency"], strict=True):
        np.testing.assert_array_equal(auto_table, concurrency_table)


def test_xla_options_reach_the_train_step_alone_and_keep_the_golden(tmp_path):
    """train.xla_options, here XLA's own settings over the suite's quick-compile XLA_FLAGS (as the
    long-run tests set them): the step XLA compiled read them (its dumped debug options say so),
    and the golden loss holds under them as under the quick flags."""
    dump = tmp_path / "xla_dump"
    config = small_config(
        **{
            **LONG_RUN_STEP,
            "train.xla_options.xla_dump_to": str(dump),
            "train.steps_per_dispatch": 1,
            "data.source": zipf_corpus(tmp_path / "zipf.txt"),
            "train.learning_rate": 0.025,
            "train.row_hit_cap": 16,
        }
    )
    _, _, losses, pairs, _ = four_steps(config)
    assert pairs == GOLDEN["skipgram"]["pairs"]
    assert losses[-1] == pytest.approx(GOLDEN["skipgram"]["loss_step_4"], abs=2e-6)
    # XLA dumps the options that differ from its defaults: none of the quick flags' values.
    read = [path.read_text() for path in dump.glob("*train_step*debug_options")]
    assert read, sorted(p.name for p in dump.iterdir())
    for options in read:
        for quick in QUICK_COMPILE_FLAGS.split():
            name, value = quick.removeprefix("--").split("=")
            assert f"{name}: {value}" not in options, options
    # The control: a per-jit value that differs from the defaults is dumped.
    control = tmp_path / "control"
    step_compiler_options({"xla_dump_to": str(control), "xla_backend_optimization_level": "1"})
    dumped = "".join(path.read_text() for path in control.glob("*debug_options"))
    assert "xla_backend_optimization_level: 1" in dumped
    with pytest.raises(UserError, match="train.xla_options: .*'xla_no_such_option'"):
        step_compiler_options({"xla_no_such_option": "1"})


@pytest.mark.parametrize("kind", ["skipgram", "cbow"])
def test_bfloat16_tables_train_in_float32_arithmetic(kind, tmp_path):
    """model.table_dtype=bfloat16 stores the tables in bfloat16 but computes each block in
    float32: the pair counts stay exact and the loss follows the float32 run's to within the
    rounding of the stored rows."""
    config = small_config(
        **{
            "model.kind": kind,
            "model.table_dtype": "bfloat16",
            "train.steps_per_dispatch": 1,
            "data.source": zipf_corpus(tmp_path / "zipf.txt"),
            # The rate and cap GOLDEN was recorded at (before skip-gram's defaults changed).
            "train.learning_rate": 0.025,
            "train.row_hit_cap": 16,
        }
    )
    state, metrics, losses, pairs, step = four_steps(config)
    tables = state["params"]
    assert tables["input_embeddings"][...].dtype == jnp.bfloat16
    assert tables["output_embeddings"][...].dtype == jnp.bfloat16
    assert pairs == GOLDEN[kind]["pairs"]
    assert losses[0] == pytest.approx(6 * math.log(2), rel=1e-6)  # zero output rows, exactly
    assert losses[-1] == pytest.approx(GOLDEN[kind]["loss_step_4"], abs=5e-3)
    assert losses[-1] != pytest.approx(GOLDEN[kind]["loss_step_4"], abs=1e-7)  # rounding shows
    assert step._cache_size() == 1


def test_synthetic_skipgram_reaches_analogy_accuracy(tmp_path):
    config = small_config(
        **{
            **LONG_RUN_STEP,
            **ONE_CHECKPOINT,
            "data.synthetic_tokens": 300_000,
            "train.epochs": 5,
            "model.dim": 64,
            "train.batch_size": 512,
        }
    )
    results = loop.train_and_evaluate(config, tmp_path)
    assert results["synthetic_analogy/accuracy"] >= 0.9
    assert results["synthetic_analogy/coverage"] == 1.0
    assert results["synthetic_similarity/spearman"] >= 0.7
    assert results["synthetic_similarity/pairs_oov"] == 0
    # Every artefact a run promises.
    for name in [
        "config.json",
        "metrics.jsonl",
        "results.json",
        "results.md",
        "vectors.txt",
        "run.json",
        "plots/analogy_pca.png",
        "plots/loss.png",
    ]:
        assert (tmp_path / name).exists(), name
    saved = json.loads((tmp_path / "results.json").read_text())
    assert all(isinstance(v, (int, float)) for v in saved.values())
    saved_config = config_lib.from_dict(Config, json.loads((tmp_path / "config.json").read_text()))
    assert saved_config == loop.resolve_model_defaults(config)  # the default rate and cap
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").open()]
    assert losses[-1] < losses[0]
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.txt"), binary=False)
    assert kv.vector_size == 64
    assert kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"


def test_synthetic_cbow_learns_analogies(tmp_path):
    config = small_config(
        **{
            **LONG_RUN_STEP,
            **ONE_CHECKPOINT,
            "data.synthetic_tokens": 300_000,
            "train.epochs": 5,
            "model.dim": 64,
            "model.kind": "cbow",
            "train.batch_size": 512,
        }
    )
    results = loop.train_and_evaluate(config, tmp_path)
    assert results["synthetic_analogy/accuracy"] >= 0.9


def final_params(workdir):
    config = small_config()
    run = loop.fit(config, workdir)
    return run.vectors.vectors


@pytest.fixture(scope="module")
def reference_params(tmp_path_factory):
    """The uninterrupted small_config() run, shared by the resume tests."""
    return final_params(tmp_path_factory.mktemp("word2vec_reference"))


def test_ctrl_c_saves_and_the_same_command_resumes_identically(
    reference_params, tmp_path, monkeypatch
):
    reference = reference_params
    with monkeypatch.context() as patch:
        patch.setattr(
            word2vec_step,
            "make_train_step",
            after_dispatch(word2vec_step.make_train_step, 3, send_sigint),
        )
        with pytest.raises(UserError, match="interrupted \\(SIGINT\\) at step 12 of"):
            final_params(tmp_path / "run")
    from research.io.checkpoint import Checkpointer

    checkpointer = Checkpointer(tmp_path / "run" / "checkpoints")
    assert checkpointer.latest_step() == 12
    corpus = corpus_lib.prepare_corpus(small_config().data, progress=False)
    tx, _ = word2vec_step.make_optimizer(small_config(), 10)
    _, like = word2vec_step.init_state(small_config(), corpus.vocab_size, tx)
    state, position = checkpointer.restore(12, like)
    checkpointer.close()
    assert int(state["step"]) == 12
    assert position == {"block": 12, "epoch": 0, "block_in_epoch": 12}
    resumed = final_params(tmp_path / "run")
    np.testing.assert_array_equal(resumed, reference)


def test_crash_resumes_from_last_periodic_checkpoint(
    reference_params, tmp_path, monkeypatch, capsys
):
    reference = reference_params

    def crash():
        raise RuntimeError("simulated kill")

    with monkeypatch.context() as patch:
        # 28 blocks done; last checkpoint at 16
        crashing = after_dispatch(word2vec_step.make_train_step, 7, crash)
        patch.setattr(word2vec_step, "make_train_step", crashing)
        with pytest.raises(RuntimeError):
            final_params(tmp_path / "run")
    resumed = final_params(tmp_path / "run")
    assert "resuming from step 16 of" in capsys.readouterr().err
    np.testing.assert_array_equal(resumed, reference)


def test_resume_with_a_different_config_is_refused(tmp_path):
    loop.fit(small_config(**{"train.epochs": 1}), tmp_path)
    with pytest.raises(UserError, match="model.dim: 32 -> 16"):
        loop.fit(small_config(**{"train.epochs": 1, "model.dim": 16}), tmp_path)


def test_the_default_rate_and_hit_cap_follow_the_model_and_are_saved_resolved(word2vec_run):
    """The defaults (learning_rate=0, row_hit_cap=-1) train skip-gram with negative sampling at
    0.035 with a cap of 11, CBOW with negative sampling at 0.05 with 8, and hierarchical softmax
    at 0.025 with 16 (word2vec.c picks its rate by model too); config.json names both, so
    resuming a run begun under other defaults is a listed config change. Explicit values are
    kept, 0 still turns the cap off."""

    def resolved(**overrides) -> tuple[float, int]:
        train = loop.resolve_model_defaults(small_config(**overrides)).train
        return train.learning_rate, train.row_hit_cap

    assert resolved() == (0.035, 11)
    assert resolved(**{"model.kind": "cbow"}) == (0.05, 8)
    assert resolved(**{"model.output": "hs", "data.negatives": 0}) == (0.025, 16)
    hs_cbow = {"model.kind": "cbow", "model.output": "hs", "data.negatives": 0}
    assert resolved(**hs_cbow) == (0.025, 16)
    explicit = {"model.kind": "cbow", "train.learning_rate": 0.05, "train.row_hit_cap": 0}
    assert resolved(**explicit) == (0.05, 0)
    saved = json.loads((word2vec_run / "config.json").read_text())["train"]
    assert (saved["learning_rate"], saved["row_hit_cap"]) == (0.035, 11)
    first = json.loads((word2vec_run / "metrics.jsonl").open().readline())
    assert 0.025 < first["learning_rate"] <= 0.035  # decaying from 0.035


def test_resume_with_another_resolved_parallel_blocks_is_refused(tmp_path):
    """parallel_blocks=1 resolves to one block per device, so config.json alone cannot tell a
    run begun on 8 devices from one resumed on 1: run.json records the resolved value."""
    loop.fit(small_config(**{"train.epochs": 1}), tmp_path)
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["parallel_blocks"] == 1
    assert info["cpu_scheduler"] == "memory"  # skip-gram at P = 1 (train.cpu_scheduler=auto)
    # As if the run had begun on 8 devices (the default resolved to 8 there).
    (tmp_path / "run.json").write_text(json.dumps({**info, "parallel_blocks": 8}))
    with pytest.raises(UserError, match="train.parallel_blocks=8 and would resume with 1"):
        loop.fit(small_config(**{"train.epochs": 1}), tmp_path)


def test_nan_loss_stops_with_the_step_range(tmp_path):
    config = small_config(**{"train.learning_rate": 1e6, "train.row_hit_cap": 0})
    with pytest.raises(TrainingDiverged, match=r"the loss became (nan|inf) between steps"):
        loop.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_bad_benchmark_file_fails_before_training(tmp_path):
    bad = tmp_path / "ws.tsv"
    bad.write_text("word1\tword2\tscore\ncat\tdog\tnot-a-number\n")
    config = small_config(**{"evals.ws.kind": "word_similarity", "evals.ws.path": str(bad)})
    with pytest.raises(UserError, match="ws.tsv"):
        loop.train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_corpus_smaller_than_one_block(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat\n" * 20)
    config = small_config(
        **{"data.source": str(corpus), "data.min_count": 1, "train.batch_size": 4096}
    )
    with pytest.raises(UserError, match="fewer than one block of train.batch_size=4096"):
        loop.train_and_evaluate(config, tmp_path / "run")


def test_launch_reports_user_errors_in_one_line(tmp_path, capsys):
    code = launch.main(
        ["experiments/word2vec.py", "--workdir", str(tmp_path), "--set", "data.windoww=3"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: unknown config key 'data.windoww'; valid keys:")
    assert launch.main(["experiments/nope.py"]) == 2
    assert launch.main(["experiments/word2vec.py", "--print-config", "--set", "model.dim=7"]) == 0
    assert '"dim": 7' in capsys.readouterr().out


def test_wandb_writer_offline_records_config_and_commit(tmp_path):
    from research.io.writers import WandbWriter

    writer = WandbWriter({"model": {"dim": 3}}, tmp_path, project="strata-test", group="g")
    writer.write(1, {"loss": 1.5})
    writer.summary({"eval/metric": 0.5})
    assert "git_commit" in dict(writer._run.config)
    writer.close()
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_every_experiment_builds_a_valid_config():
    import pathlib

    from research.compare import CompareConfig, encoder_run_config, methods_of
    from research.config import EncoderRunConfig
    from research.train import encoder as encoder_loop

    for path in sorted(pathlib.Path("experiments").glob("*.py")):
        module = launch.load_experiment(str(path))
        config = module.get_config()
        assert "python launch.py" in module.__doc__
        if isinstance(config, Config):
            loop.validate(config)
        elif isinstance(config, EncoderRunConfig):
            encoder_loop.validate(config)
        elif hasattr(module, "cells_of"):  # the word2vec scaling grid: every cell's config
            for cell in module.cells_of(config):
                loop.validate(module.cell_config(config, cell))
        else:
            assert isinstance(config, CompareConfig)
            for name, spec in methods_of(config).items():
                encoder_loop.validate(encoder_run_config(config, name, 0, spec))


def test_jit_uses_cpu():
    assert jax.devices()[0].platform == "cpu"


def test_a_million_word_vocabulary_keeps_no_dense_optimizer_state():
    # Shapes only (jax.eval_shape): the tables alone would be 2.4 GB. word2vec's optimizer must
    # hold nothing of the tables' size, or a 1 M x 300 run would need twice their memory again.
    config = small_config(**{"model.dim": 300, "train.skip_nonfinite": 2})
    tx, _ = word2vec_step.make_optimizer(config, 1000)
    from flax import nnx

    from research.models import Word2Vec

    params = jax.eval_shape(lambda: nnx.state(Word2Vec(1_000_000, 300, rngs=nnx.Rngs(params=0))))
    opt_state = jax.eval_shape(tx.init, params)
    sizes = [int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(opt_state)]
    assert max(sizes) <= 1, sizes
    table_sizes = [int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(params)]
    assert table_sizes == [300_000_000, 300_000_000]


def test_input_table_rows_are_keyed_by_index_and_uniform():
    from research.models.word2vec import uniform_rows

    key = jax.random.key(3)
    small = np.asarray(uniform_rows(key, 5, 8, -0.5, 0.5))
    # Blocks of 4 rows: a partial last block, and the rows shared with the 5-row table agree.
    large = np.asarray(uniform_rows(key, 2_003, 8, -0.5, 0.5, block_rows=4))
    assert small.shape == (5, 8) and large.shape == (2_003, 8) and large.dtype == np.float32
    np.testing.assert_array_equal(large[:5], small)
    assert large.min() >= -0.5 and large.max() < 0.5
    assert abs(large.mean()) < 0.01 and abs(large.std() - 1 / np.sqrt(12)) < 0.01
    assert len(np.unique(large[:, 0])) == 2_003  # no two rows drawn from the same key
