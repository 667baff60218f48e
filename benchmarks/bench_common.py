"""What every benchmark script shares: the machine line, peak RSS, and BENCHMARKS.md sections."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path


def invocation(script: str) -> str:
    """The command line that is running `script`, its path relative to the repository root and
    every argument shell-quoted: the "command:" line of a BENCHMARKS.md section."""
    root = Path(__file__).resolve().parents[1]
    arguments = [os.path.relpath(script, root), *sys.argv[1:]]
    return "python " + " ".join(shlex.quote(a) for a in arguments)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_json_worker(command: list[str], label: str, env: dict[str, str] | None = None) -> dict:
    """Run a benchmark worker subprocess (its own process, so its peak RSS is its own) and
    return the JSON object on the last line of its stdout; on failure show its stderr's tail and
    exit naming `label`."""
    print(f"[{time.strftime('%H:%M:%S')}] {label} ...", file=sys.stderr, flush=True)
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"{label} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the section `name` of a markdown file (between begin/end markers), or append it."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    block = f"{begin}\n{body}{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
