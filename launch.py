"""Run an experiment: python launch.py experiments/X.py [--set key=value ...] [--workdir DIR].

Thin on purpose: parse, load the experiment's `get_config()`, apply overrides, log the devices and
versions, and call the library. Mistakes a user can fix end in one line and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from research.errors import UserError


def load_experiment(path: str):
    file = Path(path)
    if not file.is_file():
        available = sorted(p.as_posix() for p in Path("experiments").glob("*.py"))
        raise UserError(f"no experiment file {path!r}; available: {', '.join(available)}")
    spec = importlib.util.spec_from_file_location(f"experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"{path} defines no get_config(); every experiment file must")
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="experiments/NAME.py")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable)",
    )
    parser.add_argument("--workdir", help="where the run writes everything (default runs/NAME)")
    parser.add_argument("--print-config", action="store_true", help="print the config and exit")
    args = parser.parse_args(argv)
    try:
        from research import config as config_lib

        module = load_experiment(args.experiment)
        config = config_lib.apply_overrides(module.get_config(), args.overrides)
        if args.print_config:
            print(config_lib.to_json(config))
            return 0
        workdir = Path(args.workdir or f"runs/{Path(args.experiment).stem}")
        import jax

        print(
            f"experiment {args.experiment} -> {workdir}  (jax {jax.__version__}, "
            f"devices: {', '.join(str(d) for d in jax.devices())})",
            file=sys.stderr,
        )
        from research.train import runner_for

        run = getattr(module, "run", None) or runner_for(config)
        run(config, workdir)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
