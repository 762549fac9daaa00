"""Where a benchmark's figures go: bench/results/NAME.json, one flat JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, figures: dict[str, Any]) -> Path:
    """Write `figures` to bench/results/NAME.json and return the file."""
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return out


def saved(name: str) -> dict[str, Any]:
    """The figures of bench/results/NAME.json."""
    return json.loads((RESULTS / f"{name}.json").read_text())
