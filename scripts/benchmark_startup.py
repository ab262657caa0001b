"""What the start-up hook (hf_tracking_startup.pth) adds to an interpreter start that never
imports transformers, measured side by side with the hook switched off (HF_TRACKING_AUTOLOAD=0).

    python scripts/benchmark_startup.py [--python ENV/bin/python] [--runs 60] [--output FILE]

The interpreter must have hf_tracking installed (``pip install .`` or ``pip install -e .``), since
the hook is a file in its site-packages. Three measurements, interleaved run by run, hook on and
off (noise only ever adds time, so on a shared machine read the minimum):

- ``wall_ms``: the wall time of ``python -c pass``, process start to exit;
- ``site_us``: inside ``python -S``, the time ``site.addsitedir`` takes over site-packages, which
  is the start-up's work on its ``.pth`` files, the hook's among them;
- ``importtime_us``: the cumulative time ``python -X importtime`` reports for ``site`` (the
  start-up's imports and ``.pth`` files), and ``hook_import_us`` for ``hf_tracking_startup``.

It also lists the modules loaded with the hook on that are not loaded with it off (the hook's
whole footprint: its own module) and says whether its finder is in place. Prints a table, writes JSON.
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
SITE_TIMER = (
    "import site, sys, time; start = time.perf_counter(); site.addsitedir(sys.argv[1]); "
    "print((time.perf_counter() - start) * 1e6)"
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


def site_us(python: str, site_packages: str, hook_on: bool) -> float:
    completed = subprocess.run(
        [python, "-S", "-c", SITE_TIMER, site_packages],
        env=environment(hook_on),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.split()[-1])


def importtime_us(python: str, hook_on: bool) -> dict[str, int]:
    """Cumulative microseconds of ``site`` and of ``hf_tracking_startup`` (absent: 0)."""
    completed = subprocess.run(
        [python, "-X", "importtime", "-c", "pass"],
        env=environment(hook_on),
        capture_output=True,
        text=True,
        check=True,
    )
    found = {"site": 0, "hf_tracking_startup": 0}
    for line in completed.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match and match.group(3) in found:
            found[match.group(3)] = int(match.group(2))
    return found


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


def compared(on: list[float], off: list[float], scale: float = 1.0) -> dict[str, float]:
    return {
        "hook_on_median": statistics.median(on) * scale,
        "hook_off_median": statistics.median(off) * scale,
        "hook_on_min": min(on) * scale,
        "hook_off_min": min(off) * scale,
        "difference_median": (statistics.median(on) - statistics.median(off)) * scale,
        "difference_min": (min(on) - min(off)) * scale,
    }


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
    site_packages = subprocess.run(
        [args.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for hook_on in (True, False):  # warm the file cache and write the .pyc files
        wall_seconds(args.python, hook_on)
    wall: dict[bool, list[float]] = {True: [], False: []}
    site: dict[bool, list[float]] = {True: [], False: []}
    importtime: dict[bool, list[float]] = {True: [], False: []}
    hook_import: list[float] = []
    for _ in range(runs):
        for hook_on in (True, False):
            wall[hook_on].append(wall_seconds(args.python, hook_on))
            site[hook_on].append(site_us(args.python, site_packages, hook_on))
            times = importtime_us(args.python, hook_on)
            importtime[hook_on].append(times["site"])
            if hook_on:
                hook_import.append(times["hf_tracking_startup"])
    result = {
        "python": args.python,
        "version": sys.version.split()[0],
        "runs": runs,
        **found,
        "wall_ms": compared(wall[True], wall[False], 1e3),
        "site_us": compared(site[True], site[False]),
        "importtime_us": compared(importtime[True], importtime[False]),
        "hook_import_us": {"median": statistics.median(hook_import), "min": min(hook_import)},
    }
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"interpreter: {args.python} (Python {result['version']}), {runs} runs interleaved")
    print("                              hook on    hook off   added (median / min)")
    for label, key, unit in (
        ("python -c pass", "wall_ms", "ms"),
        ("site.addsitedir", "site_us", "us"),
        ("-X importtime, site", "importtime_us", "us"),
    ):
        row = result[key]
        print(
            f"{label:<28}{row['hook_on_median']:>9.2f}{row['hook_off_median']:>12.2f}   "
            f"{row['difference_median']:+.2f} / {row['difference_min']:+.2f} {unit}"
        )
    hook = result["hook_import_us"]
    print(
        f"-X importtime, hf_tracking_startup: {hook['median']:.0f} us median, "
        f"{hook['min']:.0f} us min"
    )
    print(f"modules added by the hook: {', '.join(found['extra_modules']) or 'none'}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
