"""What every billing document shares: money and time as printed, CSV writing, and the printable bilingual
HTML page around a document's sections (every value escaped by the caller with `esc`)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from suanli.billing.budget import CITY_TIME

esc = html.escape


def money(value: Decimal) -> str:
    """CNY with two decimals, no exponent."""
    return f"{value.quantize(Decimal('0.01')):f}"


def local(at: datetime) -> str:
    """An instant in the city's time (UTC+8), to the minute."""
    return at.astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M")


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerows(rows)
    return out.getvalue()


def table(headings: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = ()) -> str:
    """An HTML table; `headings` are trusted (the document's own), cells are escaped here; columns in
    `numeric` are right-aligned."""
    right = set(numeric)
    head = "".join(f"<th>{h}</th>" for h in headings)
    body = "\n".join(
        "<tr>" + "".join(f"<td{' class=n' if i in right else ''}>{esc(str(c))}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>\n{body}\n</table>"


def totals_table(rows: Iterable[tuple[str, Decimal]]) -> str:
    return (
        "<table>\n"
        + "\n".join(f"<tr><th>{label}</th><td class=n>{money(v)}</td></tr>" for label, v in rows)
        + "\n</table>"
    )


def page(title: str, heading: str, intro: str, sections: Iterable[tuple[str, str]]) -> str:
    """A whole printable page. `title` and `intro` must already be escaped; sections are (heading, html)."""
    body = "\n".join(f"<h2>{h}</h2>\n{content}" for h, content in sections)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.2em .5em;text-align:left}}.n{{text-align:right}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>{heading}</h1>
<p>{intro}</p>
{body}
</body></html>
"""
