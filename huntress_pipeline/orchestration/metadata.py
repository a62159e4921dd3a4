"""Tables for the web UI: asset metadata as markdown."""

from typing import Any, Mapping, Sequence

import pandas as pd


def markdown_table(rows: "Sequence[Mapping[str, Any]] | pd.DataFrame", limit: int = 50, total: int | None = None) -> str:
    """The first ``limit`` rows as a markdown table, saying how many more there are."""
    if isinstance(rows, pd.DataFrame):
        total = len(rows) if total is None else total
        rows = rows.head(limit).to_dict("records")
    total = len(rows) if total is None else total
    if not rows:
        return "_no rows yet_"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]).replace("|", "/") for c in columns) + " |" for r in rows[:limit]]
    if total > min(limit, len(rows)):
        lines.append(f"\n_first {min(limit, len(rows))} of {total} rows_")
    return "\n".join(lines)
