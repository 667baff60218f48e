"""Data parallelism: 8 simulated devices, and two processes on the loopback address, train what
one device trains (word2vec with train.parallel_blocks=8 and an encoder, tests/distributed_run.py).

The runs on several devices are subprocesses: the device count (XLA_FLAGS) and the process group
must be set before jax starts, and this test session has one CPU device.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import launch
from research import distributed
from research.data import corpus as corpus_lib
from research.data.sequences import prepare_sequences
from research.errors import UserError
from research.train import encoder as encoder_loop
from research.train import word2vec as loop
from tests.shared_runs import built_once

RUN = "tests/distributed_run.py"
ROOT = Path(__file__).resolve().parent.parent
# Tolerances: several devices reorder float32 sums (the all-gathered row updates, the loss and
# gradient all-reduces); measured max |difference| 3.6e-7 for word2vec tables of magnitude ~0.1
# and 2.7e-6 for the encoder (largest on attention key biases, whose exact gradient is zero, so
# Adam scales rounding noise up to learning-rate-sized steps). 10-20x margins; a real mistake (a
# block or row seen twice or lost, another batch order or dropout mask) moves weights by >1e-3.
ATOL = {"word2vec": 1e-5, "encoder": 5e-5}


def final_state(run_dir: Path) -> dict[str, np.ndarray]:
    """The last checkpoint's train state as numpy, whatever devices wrote it."""
    checkpoints = run_dir / "checkpoints"
    step = max(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())
    path = (checkpoints / str(step) / "state").absolute()
    with ocp.PyTreeCheckpointer() as checkpointer:
        meta = checkpointer.metadata(path).item_metadata.tree
        as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta)
        tree = checkpointer.restore(path, restore_args=as_numpy)
    return {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree.leaves_with_path(tree)}


def assert_same_training(expected_dir: Path, actual_dir: Path) -> None:
    for name, atol in ATOL.items():
        expected, actual = final_state(expected_dir / name), final_state(actual_dir / name)
        assert expected.keys() == actual.keys(), name
        for key in expected:
            np.testing.assert_allclose(
                actual[key], expected[key], rtol=1e-4, atol=atol, err_msg=f"{name} {key}"
            )


def subprocess_env(devices: int) -> dict[str, str]:
    env = dict(os.environ)  # keeps conftest's JAX_PLATFORMS, STRATA_CACHE and XLA flags
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    return env


def start(
    workdir: Path, devices: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "launch.py", RUN, "--workdir", str(workdir), *extra],
        cwd=ROOT,
        env={**subprocess_env(devices), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """A free port for process 0's coordinator."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_flags(port: int, index: int) -> list[str]:
    return [
        "--coordinator",
        f"127.0.0.1:{port}",
        "--num-processes",
        "2",
        "--process-id",
        str(index),
    ]


def finish(processes: list[subprocess.Popen], timeout: float, returncode: int = 0) -> list[str]:
    """Wait for every process; on a timeout kill them all and fail showing every process's
    output (a hang in one is usually explained by the other's traceback)."""
    outputs = []
    timed_out = False
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=timeout)[0])
        except subprocess.TimeoutExpired:
            timed_out = True
            process.kill()
            outputs.append(process.communicate()[0] + "\n[killed: timed out]")
    if timed_out:
        shown = "\n".join(f"--- process {i}:\n{out[-3000:]}" for i, out in enumerate(outputs))
        pytest.fail(f"a process ran past {timeout} s\n{shown}")
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == returncode, output[-4000:]
    return outputs


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Every run of this file at once: the 8-device run and the two processes start first and
    overlap the one-device reference, computed in this session (one CPU device, no mesh); on 2
    cores that halves the file's time, as the runs mostly wait on compiles and each other. Once
    per session, whichever worker runs this file's tests."""
    root, outputs = built_once(tmp_path_factory, "distributed", all_runs)
    return {"root": root, **outputs}


def all_runs(root: Path) -> dict:
    assert jax.device_count() == 1
    module = launch.load_experiment(RUN)
    # The token caches first, so that the subprocesses read them rather than race to build them.
    config = module.get_config()
    corpus_lib.prepare_corpus(config.data, progress=False)
    encoder = module.encoder_config(config)
    prepare_sequences(
        encoder.data,
        max_len=encoder.data.max_len,
        sentence_len=encoder.data.sentence_len,
        vocab_size=encoder.data.vocab_size,
        progress=False,
    )
    port = free_port()
    eight = start(root / "eight_devices", 8)
    pair = [
        start(
            root / "two_processes",
            1,
            "--set",
            "train.shard_tables=true",  # the tables split across the two processes
            *process_flags(port, index),
        )
        for index in (0, 1)
    ]
    try:
        module.run(config, root / "one_device")
    finally:
        eight_output = finish([eight], timeout=300)
        pair_outputs = finish(pair, timeout=300)
    return {"eight_output": eight_output[0], "pair_outputs": pair_outputs}


def test_eight_simulated_devices_match_one_device(runs):
    root = runs["root"]
    run_info = json.loads((root / "eight_devices" / "word2vec" / "run.json").read_text())
    assert len(run_info["devices"]) == 8
    # the schedule follows the resolved train.parallel_blocks (8 here), not the config's 1
    assert run_info["cpu_scheduler"] == "concurrency"
    assert_same_training(root / "one_device", root / "eight_devices")


def test_two_processes_match_one_process(runs):
    root = runs["root"]
    workdir = root / "two_processes"
    assert_same_training(root / "one_device", workdir)
    # Process 0 alone logs and writes the results; process 1 only trains and checkpoints.
    main_output, other_output = runs["pair_outputs"]
    for name, steps in (("word2vec", 259), ("encoder", 6)):
        rows = [json.loads(line) for line in (workdir / name / "metrics.jsonl").open()]
        assert rows[-1]["step"] == steps and len({r["step"] for r in rows}) == len(rows)
        assert (workdir / name / "results.json").exists()
    assert len(json.loads((workdir / "word2vec" / "run.json").read_text())["devices"]) == 2
    assert "step 3:" in main_output and "step 3:" not in other_output
    assert "# Results" in main_output and "# Results" not in other_output


def test_ctrl_c_in_one_process_stops_every_process_at_the_same_step(runs, tmp_path):
    """Process 1 alone gets SIGINT after step 4; both save step 6 (the next log step, log_every
    3), exit with the one-line error, and the same command resumes to the end."""
    run_module = launch.load_experiment(RUN)
    workdir = tmp_path / "interrupted"
    port = free_port()
    env = {run_module.INTERRUPT_ENV: "4"}
    pair = [start(workdir, 1, *process_flags(port, i), env=env) for i in (0, 1)]
    outputs = finish(pair, timeout=300, returncode=2)
    for output in outputs:  # without the agreement process 0 would wait for 1 until the timeout
        assert "error: interrupted (SIGINT) at step 6 of 12; checkpoint saved" in output
    checkpoints = workdir / "encoder" / "checkpoints"
    assert sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()) == [6]
    port = free_port()
    env = {run_module.ENCODER_ONLY_ENV: "1"}
    finish([start(workdir, 1, *process_flags(port, i), env=env) for i in (0, 1)], timeout=300)
    rows = [json.loads(line) for line in (workdir / "encoder" / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [3, 6, 9, 12]
    assert (workdir / "encoder" / "results.json").exists()


FAIL_ON_ONE_PROCESS = """
import sys
from research import distributed
from research.errors import UserError
port, index, failing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
distributed.initialize(f"127.0.0.1:{port}", 2, index)

def prepare():
    if index == failing:
        raise UserError(f"no data file on process {index}")
    return "ready"

try:
    distributed.main_process_first("the data", prepare)
except UserError as error:
    print(f"error: {error}")
    sys.exit(2)
"""


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_on_one_process_stops_every_process_with_one_line(failing):
    """Before `stop_together`, process 0 failing left process 1 in the barrier until gloo's 30 s
    timeout, which then died with a JaxRuntimeError traceback; process 1 failing after the
    barrier left process 0 to wait in the next collective."""
    port = free_port()
    pair = [
        subprocess.Popen(
            [sys.executable, "-c", FAIL_ON_ONE_PROCESS, str(port), str(i), str(failing)],
            cwd=ROOT,
            env=subprocess_env(1),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = finish(pair, timeout=120, returncode=2)
    where = "process 0" if failing == 0 else "the other processes"
    for index, output in enumerate(outputs):
        if index == failing:
            assert f"error: no data file on process {failing}" in output
        else:
            assert f"error: process {failing} stopped at the data on {where}; its error" in output


def test_parallel_batches_must_split_over_the_devices():
    module = launch.load_experiment(RUN)
    config = module.get_config()
    config.train.parallel_blocks = 6
    mesh = jax.sharding.Mesh(np.array(jax.devices() * 4), ("data",))  # stands in for 4 devices
    with pytest.raises(UserError, match="parallel_blocks=6 must be a multiple of the 4 devices"):
        loop.check_mesh(config, mesh)
    config.train.parallel_blocks = 8
    config.train.shard_tables = True
    with pytest.raises(UserError, match="set data.max_vocab=508"):
        loop.check_mesh(config, mesh, vocab_size=510)
    encoder = module.encoder_config(config)
    encoder.train.sentence_batch_size = 10
    with pytest.raises(UserError, match="sentence_batch_size=10 must be a multiple of the 4"):
        encoder_loop.check_mesh(encoder, mesh)
    with pytest.raises(UserError, match="only 1 device"):
        distributed.data_mesh(2)


def test_incomplete_process_settings_are_one_line_errors(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    distributed.initialize()  # nothing asked: one process
    with pytest.raises(UserError, match="needs a coordinator address"):
        distributed.initialize(num_processes=2, process_id=0)
    with pytest.raises(UserError, match="process id 2 is not in 0..1"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(UserError, match=r"\$JAX_NUM_PROCESSES='two' is not an integer"):
        distributed.initialize()
