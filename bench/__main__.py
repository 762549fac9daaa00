"""Run the benchmarks: `python -m bench [NAME...]`.

Every module `bench/b_<name>.py` defines `run() -> dict[str, float | str]`, a flat mapping of
figure name to value. Figures that compare against a peer or a baseline are measured in the same
run and reported as ratios, because these machines are noisy. Results are printed as a table and
written to bench/results/<name>.json.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import figures

HERE = Path(__file__).resolve().parent


def main(selected: list[str]) -> int:
    names = sorted(p.stem[2:] for p in HERE.glob("b_*.py"))
    unknown = set(selected) - set(names)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(names)}")
        return 2
    results: dict[str, dict] = {}
    chosen = selected or names
    if len(chosen) > 1:
        # Each in a fresh process: none inherits another's loaded model, threads or memory (a
        # child's peak RSS would count the parent's memory it inherits at fork).
        for name in chosen:
            done = subprocess.run([sys.executable, "-m", "bench", name], cwd=HERE.parent)
            if done.returncode != 0:
                return done.returncode
            results[name] = figures.saved(name)
        print(json.dumps(results))
        return 0
    for name in chosen:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.b_{name}")
        measured = module.run()
        measured["bench_seconds"] = round(time.perf_counter() - started, 1)
        results[name] = measured
        for key, value in measured.items():
            print(f"  {key:<48} {value}")
        figures.save(name, measured)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
