"""log.profile_dispatches traces the training step, and benchmarks/word2vec_profile.py reads such
traces: operations mapped to their HLO instructions and classified, times made exclusive."""

from __future__ import annotations

import gzip
import json

import jax
import jax.numpy as jnp
import pytest

from benchmarks.word2vec_profile import breakdown, category, exclusive_times, parse_hlo
from research.train.word2vec import fit
from tests.test_train import small_config, zipf_corpus


def trace_events(directory) -> list[dict]:
    (trace,) = directory.rglob("perfetto_trace.json.gz")
    return [e for e in json.load(gzip.open(trace))["traceEvents"] if e.get("ph") == "X"]


def test_profile_dispatches_traces_that_many_step_calls_after_the_first_log(tmp_path, capsys):
    config = small_config(
        **{"data.source": zipf_corpus(tmp_path / "c.txt"), "log.profile_dispatches": 2}
    )
    config.train.epochs = 1
    fit(config, tmp_path / "run")
    assert "profile written to" in capsys.readouterr().err
    events = trace_events(tmp_path / "run" / "profile")
    calls = [e for e in events if e["name"] == "PjitFunction(train_step)"]
    # Each call shows as two nested events (the Python call and the C++ dispatch): 2 calls.
    assert len(calls) == 4
    # The compiled step's own operations ran inside the window; its compilation did not.
    # (The scatter runs as one kernel under XLA's default emitters, as a while loop under the
    # legacy ones tests/conftest.py selects.)
    assert any(e["name"].startswith(("wrapped_scatter", "while")) for e in events)
    assert not any(e["name"] == "PjRtCpuClient::Compile" for e in events)


def test_no_profile_by_default(tmp_path):
    config = small_config(**{"data.source": zipf_corpus(tmp_path / "c.txt")})
    config.train.epochs = 1
    fit(config, tmp_path / "run")
    assert not (tmp_path / "run" / "profile").exists()


def test_exclusive_times_subtract_nested_events_per_thread():
    events = [
        {"tid": 1, "ts": 0.0, "dur": 10.0, "name": "while"},
        {"tid": 1, "ts": 1.0, "dur": 3.0, "name": "inner"},
        {"tid": 1, "ts": 5.0, "dur": 4.0, "name": "inner"},
        {"tid": 2, "ts": 2.0, "dur": 6.0, "name": "while"},  # another thread: not a child
        {"tid": 1, "ts": 12.0, "dur": 1.0, "name": "after"},
    ]
    times = exclusive_times(events)
    assert times[(1, "while")] == pytest.approx(3.0)
    assert times[(1, "inner")] == pytest.approx(7.0)
    assert times[(2, "while")] == pytest.approx(6.0)
    assert times[(1, "after")] == pytest.approx(1.0)


def test_a_real_trace_of_gather_matmul_scatter_is_classified(tmp_path):
    """A jitted gather → matmul → scatter-add, compiled and traced for real: every traced
    operation is found in the compiled HLO text, and each of the three kinds gets time."""

    def step(table, ids, weights):
        rows = table[ids]
        return table.at[ids].add(rows @ weights), rows.sum()

    table = jnp.ones((5000, 64))
    ids = jnp.arange(0, 4096, 2) % 5000
    weights = jnp.eye(64) * 0.5
    jitted = jax.jit(step, donate_argnums=0)
    hlo = jitted.lower(table, ids, weights).compile().as_text()  # what the calls below run
    instructions, opcodes = parse_hlo(hlo)
    kinds = {category(name, instructions, opcodes) for name in instructions}
    assert {"gather", "scatter", "matmul"} <= kinds
    table, _ = jitted(table, ids, weights)  # compiled outside the trace
    with jax.profiler.trace(str(tmp_path), create_perfetto_trace=True):
        for _ in range(3):
            table, _ = jitted(table, ids, weights)
        jax.block_until_ready(table)
    events = trace_events(tmp_path)
    result = breakdown(events, hlo, step_name="step")
    assert result["dispatches"] == 3
    for kind in ("gather", "scatter", "matmul"):
        assert result["ms"][kind] > 0, (kind, result)
    assert result["wall_ms"] > 0
    # the largest JAX operations, largest first: every traced XLA operation in one group, so
    # (with fewer groups than the list holds) they add up to the classes' total
    top = result["top"]
    assert top and [t["ms"] for t in top] == sorted((t["ms"] for t in top), reverse=True)
    assert {t["category"] for t in top} >= {"gather", "scatter", "matmul"}
    assert sum(len(t["ops"]) for t in top) == len({op for t in top for op in t["ops"]})
    if len(top) < 12:
        assert abs(sum(t["ms"] for t in top) - sum(result["ms"].values())) < 1e-6
    assert any("dot_general" in t["source"] for t in top if t["category"] == "matmul")
