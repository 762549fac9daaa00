"""Query latency of this tree against another revision, in one run: `python -m bench.compare REV`.

This machine's speed drifts by a fifth within minutes, so a change to the search path is judged
by a ratio: the two trees take turns, ROUNDS times each, every turn a fresh process that opens
the Python docs index (bench/corpora.py), warms it as `riverbed serve` does, asks WARM_UP
questions and then times MEASURED others (k=5, hybrid; b_query's questions). REV is checked out
into a temporary git worktree; both trees run in this virtualenv. Prints each turn's p50, the
medians and their ratio (this tree / REV), and writes bench/results/compare.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.b_query import MEASURED, WARM_UP, questions
from bench.corpora import ROOT, clean_env, pydocs_index
from bench.figures import save

ROUNDS = 5
TURN = """
import json, sys, time
from index.api import Index
asked = json.loads(open(sys.argv[2]).read())
with Index.open(sys.argv[1]) as index:
    getattr(index, "warm", lambda: None)()  # older trees have no warm()
    for question in asked[:{warm}]:
        index.search(question, k=5, mode="hybrid")
    latencies = []
    for question in asked[{warm}:]:
        started = time.perf_counter()
        index.search(question, k=5, mode="hybrid")
        latencies.append(time.perf_counter() - started)
print(json.dumps(latencies))
"""


def turn(tree: Path, data_dir: Path, asked_file: Path) -> float:
    """p50 in milliseconds of one fresh process of `tree`."""
    env = clean_env()
    env["PYTHONPATH"] = str(tree)  # ahead of the editable install of this tree
    done = subprocess.run(
        [sys.executable, "-c", TURN.format(warm=WARM_UP), str(data_dir), str(asked_file)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return statistics.median(json.loads(done.stdout.splitlines()[-1])) * 1000


def main(revision: str, rounds: int = ROUNDS) -> int:
    data_dir, _ = pydocs_index()
    asked = questions(data_dir)[: WARM_UP + MEASURED]
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(baseline), revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            asked_file = Path(scratch) / "questions.json"
            asked_file.write_text(json.dumps(asked))
            p50: dict[str, list[float]] = {"this tree": [], revision: []}
            for _ in range(rounds):
                for name, tree in (("this tree", ROOT), (revision, baseline)):
                    p50[name].append(round(turn(tree, data_dir, asked_file), 2))
                    print(f"  {name:<12} hybrid p50 {p50[name][-1]:.2f} ms", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT)
    medians = {name: statistics.median(values) for name, values in p50.items()}
    figures = {
        "revision": revision,
        "p50_ms_per_turn": p50,
        "this_tree_median_p50_ms": medians["this tree"],
        "revision_median_p50_ms": medians[revision],
        "ratio": round(medians["this tree"] / medians[revision], 3),
    }
    print(json.dumps(figures))
    save("compare", figures)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python -m bench.compare REV [ROUNDS]")
        sys.exit(2)
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS))
