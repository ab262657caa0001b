"""What the start-up hook (hf_tracking_startup.pth) adds to an interpreter start that never
imports transformers, measured side by side with the hook switched off (HF_TRACKING_AUTOLOAD=0).

    python scripts/benchmark_startup.py [--python ENV/bin/python] [--runs 60] [--output FILE]

The interpreter must have hf_tracking installed (``pip install .`` or ``pip install -e .``), since
the hook is a file in its site-packages. Two measurements, interleaved run by run:

- ``wall``: the wall time of ``python -c pass`` (process start to exit), median and minimum over
  the runs (on a shared machine the spread between runs is several ms: read the minimum);
- ``importtime``: the cumulative microseconds ``python -X importtime`` reports for
  ``hf_tracking_startup`` (the module and everything it imports), median over the runs.

It also lists the modules loaded with the hook on that are not loaded with it off (the hook's
whole footprint) and says whether the finder is in place. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

SWITCH = "HF_TRACKING_AUTOLOAD"
PROBE = (
    "import json, sys; print(json.dumps(sorted(sys.modules))); "
    "print(any(type(f).__name__ == 'RegisteringFinder' for f in sys.meta_path))"
)
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")


def environment(hook_on: bool) -> dict[str, str]:
    # As a user's interpreter runs: bytecode cached (the first run writes it), no PYTHONPATH.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    }
    if not hook_on:
        env[SWITCH] = "0"
    else:
        env.pop(SWITCH, None)
    return env


def wall_seconds(python: str, hook_on: bool) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=environment(hook_on), check=True)
    return time.perf_counter() - start


def hook_import_us(python: str) -> int:
    completed = subprocess.run(
        [python, "-X", "importtime", "-c", "pass"],
        env=environment(True),
        capture_output=True,
        text=True,
        check=True,
    )
    for line in completed.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match and match.group(3) == "hf_tracking_startup":
            return int(match.group(2))
    raise SystemExit("error: hf_tracking_startup was not imported at start-up; is it installed?")


def footprint(python: str) -> dict[str, object]:
    loaded = {}
    for hook_on in (True, False):
        out = subprocess.run(
            [python, "-c", PROBE], env=environment(hook_on), capture_output=True, text=True
        ).stdout.splitlines()
        loaded[hook_on] = (set(json.loads(out[0])), out[1] == "True")
    return {
        "finder_installed": loaded[True][1],
        "finder_installed_when_switched_off": loaded[False][1],
        "extra_modules": sorted(loaded[True][0] - loaded[False][0]),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="5 runs, for the test suite")
    parser.add_argument("--output", default="benchmark_startup.json")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    found = footprint(args.python)
    if not found["finder_installed"]:
        raise SystemExit(f"error: the start-up hook is not installed for {args.python}")
    for hook_on in (True, False):  # warm the file cache and the .pyc files
        wall_seconds(args.python, hook_on)
    on, off, importtime = [], [], []
    for _ in range(runs):
        on.append(wall_seconds(args.python, True))
        off.append(wall_seconds(args.python, False))
        importtime.append(hook_import_us(args.python))
    result = {
        "python": args.python,
        "version": sys.version.split()[0],
        **found,
        "wall_ms": {
            "hook_on": {key: value * 1e3 for key, value in summary(on).items() if key != "n"},
            "hook_off": {key: value * 1e3 for key, value in summary(off).items() if key != "n"},
            "difference_median": (statistics.median(on) - statistics.median(off)) * 1e3,
            "difference_min": (min(on) - min(off)) * 1e3,
            "runs": runs,
        },
        "importtime_us": summary(importtime),
    }
    Path(args.output).write_text(json.dumps(result, indent=2))
    wall = result["wall_ms"]
    print(f"interpreter: {args.python} (Python {result['version']}), {runs} runs interleaved")
    print(f"python -c pass, hook on : {wall['hook_on']['median']:.2f} ms median")
    print(f"python -c pass, hook off: {wall['hook_off']['median']:.2f} ms median")
    print(
        f"difference              : {wall['difference_median']:+.3f} ms median, "
        f"{wall['difference_min']:+.3f} ms min"
    )
    print(f"-X importtime, hf_tracking_startup: {result['importtime_us']['median']:.0f} us median")
    print(f"modules added by the hook: {', '.join(found['extra_modules']) or 'none'}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
