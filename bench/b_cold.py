"""Cold CLI: wall time of `riverbed ask` in a new process against an existing index (target <= 2 s).

The index is the Python docs one of b_query (10,000+ passages). Each run is a new interpreter
asking a question it has not asked before (k=5, hybrid, --json); the derived artefacts (the
ONNX export and its optimised graph, the word-frequency table) are made before measuring, by a
first ask, as any install has them after its first query. The median of RUNS is the figure; a
bare interpreter start (`python -c pass`) and the imports of the ask path are given for scale.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from bench.b_query import questions
from bench.corpora import PYDOCS_MIN_PASSAGES, ROOT, clean_env, pydocs_index, riverbed

RUNS = 7


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=clean_env(), cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - started


def run() -> dict[str, float | str]:
    data_dir, stats = pydocs_index()
    if stats["passages"] < PYDOCS_MIN_PASSAGES:
        from bench.b_query import SMALLER_CHUNKS

        data_dir, stats = pydocs_index(SMALLER_CHUNKS)
    asked = questions(data_dir)[-(RUNS + 1) :]
    wall(riverbed(data_dir, "ask", asked[0], "--json"))  # makes the derived artefacts
    asks = [wall(riverbed(data_dir, "ask", question, "--json")) for question in asked[1:]]
    bare = [wall([sys.executable, "-c", "pass"]) for _ in range(3)]
    imports = [
        wall([sys.executable, "-c", "import index.api, index.store.sqlite_faiss, onnxruntime"])
        for _ in range(3)
    ]
    return {
        "index": f"{stats['passages']} passages",
        "runs": RUNS,
        "ask_median_s": round(statistics.median(asks), 3),
        "ask_min_s": round(min(asks), 3),
        "ask_max_s": round(max(asks), 3),
        "python_start_s": round(min(bare), 3),
        "ask_path_imports_s": round(min(imports), 3),
    }
