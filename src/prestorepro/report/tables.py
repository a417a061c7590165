"""Writing a table as CSV, Markdown, LaTeX and HTML, and the formatting every table shares. The tables
themselves: ``table1`` (Table 1, Fig. 7), ``setup`` (parameters, Tables 4 and 5), ``synthetic`` (App. C),
``compress`` (Table 2), ``coreset``, ``ablation``, ``comparison`` (the paper comparison)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from prestorepro.io import write_text


BOLD = "**"  # a cell wrapped in it is the best of its group: bold in the Markdown, HTML and LaTeX


def write_table(df: pd.DataFrame, stem: str | Path, caption: str = "", notes: Iterable[str] = (),
                html: bool = False, shown: Sequence[str] | None = None) -> None:
    """Write ``stem``.csv / .md / .tex atomically; notes become footnotes of the md and tex files.

    ``html=True`` also writes a standalone ``stem``.html (the table, caption and notes) for the
    Snakemake report, which shows HTML inline but offers CSV only as a download. ``shown``: the columns
    the md, tex and html show (the formatted ones); the CSV keeps every column (the raw numbers). A text
    cell ``**x**`` prints bold in all three."""
    stem = str(stem)
    notes = [n for n in notes if n]
    write_text(stem + ".csv", _unbold(df).to_csv(index=False))
    view = df if shown is None else df[list(shown)]
    # missing values (a paper number we have no counterpart for, and the reverse) print as a dash
    cells = view.astype(object).where(view.notna(), None)
    if html:
        write_text(stem + ".html", table_html(view, caption, notes))
    md = (f"**{caption}**\n\n" if caption else "") + cells.to_markdown(index=False, missingval="–")
    if notes:
        md += "\n\n" + "\n".join(f"- {n}" for n in notes)
    write_text(stem + ".md", md + "\n")
    tex = _tex_bold(view).to_latex(index=False, escape=True, caption=caption or None, na_rep="--",
                                   float_format=lambda v: f"{v:.6g}")
    tex = tex.replace("\\textbackslash textbf\\{", "\\textbf{").replace("\\}\\textbackslash endbold", "}")
    if notes:
        esc = [n.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#") for n in notes]
        tex += "% notes:\n" + "".join(f"% {n}\n" for n in esc)
    write_text(stem + ".tex", tex)


def _is_bold(v) -> bool:
    return isinstance(v, str) and len(v) > 4 and v.startswith(BOLD) and v.endswith(BOLD)


def _unbold(df: pd.DataFrame) -> pd.DataFrame:
    return df.apply(lambda col: col.map(lambda v: v[2:-2] if _is_bold(v) else v)) if len(df) else df


def _tex_bold(df: pd.DataFrame) -> pd.DataFrame:
    # marked so that to_latex's escaping leaves a recognisable pattern, turned into \textbf{...} after it
    return df.apply(lambda col: col.map(lambda v: f"\\textbf{{{v[2:-2]}}}\\endbold" if _is_bold(v) else v)) if len(df) else df


def table_html(df: pd.DataFrame, caption: str = "", notes: Iterable[str] = ()) -> str:
    """A small self-contained HTML page holding one table (no external style sheets or scripts)."""
    import html as _html

    import re

    body = df.astype(object).where(df.notna(), "–").to_html(index=False, border=0, classes="t")
    body = re.sub(r"<td>\*\*(.+?)\*\*</td>", r"<td><b>\1</b></td>", body)
    notes_html = "".join(f"<li>{_html.escape(n)}</li>" for n in notes)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
            "body{font-family:sans-serif;font-size:13px} table.t{border-collapse:collapse}"
            "table.t td,table.t th{border-bottom:1px solid #ccc;padding:3px 8px;text-align:right}"
            "table.t th{background:#f0f0f0}</style></head><body>"
            + (f"<p><b>{_html.escape(caption)}</b></p>" if caption else "") + body
            + (f"<ul>{notes_html}</ul>" if notes_html else "") + "</body></html>\n")


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


def _int_columns(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    # integer columns with gaps (a paper-only row) stay integers instead of turning into floats
    for c in columns:
        if c in df:
            df[c] = df[c].astype("Int64")
    return df
