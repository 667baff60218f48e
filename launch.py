"""Run an experiment: python launch.py experiments/X.py [--set key=value ...] [--workdir DIR].

Thin on purpose: parse, load the experiment's `get_config()` (and its `optimizer`/`schedule`
if it composes them), apply overrides, join a
multi-process run if asked (--coordinator/--num-processes/--process-id or JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID), log the devices and versions, and call the library. Mistakes
a user can fix end in one line and exit status 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import traceback
from pathlib import Path

from research.errors import UserError

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


def docstring(path: Path) -> str:
    """An experiment file's module docstring, read without running the file ("" if none)."""
    try:
        return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""


def summary(path: Path, width: int = 100) -> str:
    """The docstring's first paragraph on one line, cut at a word to `width` characters."""
    text = " ".join(docstring(path).split("\n\n")[0].split())
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + " …"


def experiment_list() -> str:
    """Every experiments/*.py with its one-line summary, for --help and a missing experiment."""
    files = sorted(EXPERIMENTS.glob("*.py"))
    width = max((len(f"experiments/{f.name}") for f in files), default=0)
    lines = [f"  {f'experiments/{f.name}':<{width}}  {summary(f)}" for f in files]
    return "experiments:\n" + "\n".join(lines)


def load_experiment(path: str):
    file = Path(path)
    if not file.is_file():
        available = sorted(f"experiments/{p.name}" for p in EXPERIMENTS.glob("*.py"))
        raise UserError(f"no experiment file {path!r}; available: {', '.join(available)}")
    spec = importlib.util.spec_from_file_location(f"experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"{path} defines no get_config(); every experiment file must")
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=experiment_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiment", nargs="?", help="experiments/NAME.py (listed below)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable)",
    )
    parser.add_argument("--workdir", help="where the run writes everything (default runs/NAME)")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the experiment's docstring (stderr) and its resolved config (stdout, JSON)",
    )
    parser.add_argument(
        "--coordinator",
        default="",
        metavar="HOST:PORT",
        help="multi-process run: address of process 0 (else $JAX_COORDINATOR_ADDRESS; 'auto' "
        "detects Slurm, Open MPI or a TPU pod)",
    )
    parser.add_argument(
        "--num-processes",
        type=int,
        default=0,
        help="multi-process run: number of processes (else $JAX_NUM_PROCESSES)",
    )
    parser.add_argument(
        "--process-id",
        type=int,
        default=-1,
        help="multi-process run: this process's id, 0 = the one that writes (else $JAX_PROCESS_ID)",
    )
    args = parser.parse_args(argv)
    if args.experiment is None:
        print(experiment_list(), file=sys.stderr)
        print(
            "error: no experiment given; run python launch.py experiments/NAME.py", file=sys.stderr
        )
        return 2
    try:
        from research import config as config_lib

        module = load_experiment(args.experiment)
        config = config_lib.apply_overrides(module.get_config(), args.overrides)
        if args.print_config:
            # The docstring goes to stderr so that stdout stays valid JSON (> config.json).
            print(f"# {args.experiment}", file=sys.stderr)
            for line in docstring(Path(args.experiment)).splitlines():
                print(f"# {line}".rstrip(), file=sys.stderr)
            sys.stderr.flush()
            print(config_lib.to_json(config))
            return 0
        workdir = Path(args.workdir or f"runs/{Path(args.experiment).stem}")
        import jax

        from research import distributed

        distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        if jax.process_count() > 1:
            print(
                f"process {jax.process_index()} of {jax.process_count()}, local devices: "
                f"{', '.join(str(d) for d in jax.local_devices())}",
                file=sys.stderr,
            )
        if distributed.is_main_process():
            print(
                f"experiment {args.experiment} -> {workdir}  (jax {jax.__version__}, "
                f"devices: {', '.join(str(d) for d in jax.devices())})",
                file=sys.stderr,
            )
        from research.train.families import family_for

        # An experiment file may bring its own runner (the comparison does) and compose its
        # own Optax optimizer: optimizer(config, schedule) and schedule(config, total_steps).
        hooks = {k: getattr(module, k) for k in ("optimizer", "schedule") if hasattr(module, k)}
        run = getattr(module, "run", None) or family_for(config).runner()
        run(config, workdir, **hooks)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception:
        if "jax" in sys.modules and sys.modules["jax"].process_count() > 1:
            # A crash in one process of several: exit now. A normal exit would wait in jax's
            # shutdown barrier (5 minutes) for processes that are themselves waiting for this
            # one inside the run; exiting lets the coordination service stop them within its
            # heartbeat timeout (100 s). A UserError exits normally: the checks that raise one
            # run alike in every process, and an interrupt is agreed on by all of them.
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
