"""Rich tables and small formatting helpers for the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text

from suanli.domain.durations import format_duration

STATE_STYLE = {
    "queued": "yellow",
    "submitted": "yellow",
    "placed": "cyan",
    "starting": "cyan",
    "running": "blue",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
    "rejected": "red",
    "preempted": "yellow",
    "lost": "red",
}


def state(value: str) -> Text:
    return Text(value, style=STATE_STYLE.get(value, ""))


def ago(stamp: str | None) -> str:
    if not stamp:
        return "-"
    then = datetime.fromisoformat(stamp)
    return format_duration((datetime.now(UTC) - then).total_seconds()) + " ago"


def jobs_table(items: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for column in ("ID", "NAME", "STATE", "ACCELERATORS", "NODES", "SUBMITTED", "REASON"):
        table.add_column(column, overflow="fold" if column == "REASON" else "ellipsis")
    for j in items:
        table.add_row(
            j["id"],
            j["name"],
            state(j["state"]),
            ", ".join(j["accelerators"]) or "cpu",
            str(j["num_nodes"]),
            ago(j["submitted_at"]),
            clip(j["state_reason"], REASON_WIDTH),
        )
    return table


REASON_WIDTH = 120


def clip(text: str, width: int) -> str:
    """`text` cut to at most `width` characters at a word boundary, with an ellipsis when cut (`suanli why`
    shows a reason whole)."""
    if len(text) <= width:
        return text
    head = text[: width - 1]
    cut = head.rfind(" ")
    return (head[:cut] if cut > width // 2 else head).rstrip(" ,;:") + "…"


def price(text: str) -> str:
    """ "12.5000" -> "12.50": at least two decimals, no trailing zeros beyond them."""
    value = Decimal(text)
    return format(
        value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value.normalize(), "f"
    )


def centres_table(centres: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for column in ("CENTRE", "STATUS", "POOL", "MODEL", "NODES", "IN USE", "CNY/HOUR", "PFLOPS"):
        table.add_column(column, overflow="fold")
    for c in centres:
        status_style = {"online": "green", "offline": "red", "disabled": "dim"}.get(c["status"], "")
        for i, p in enumerate(c["pools"] or [None]):
            if p is None:
                table.add_row(c["name"], Text(c["status"], style=status_style), "-", "-", "-", "-", "-", "0")
                continue
            unit = "core" if p["stack"] == "cpu" else "card"
            cost = f"{price(p['price']['price'])}/{unit}" if p["price"] else "no price"
            total = p["accelerators_total"] or "-"
            in_use = f"{p['accelerators_in_use']}/{total}" if p["accelerators_total"] else f"{p['running_jobs']} jobs"
            nodes = f"{p['nodes_up'] if p['nodes_up'] is not None else p['nodes']}/{p['nodes']}"
            table.add_row(
                c["name"] if i == 0 else "",
                Text(c["status"], style=status_style) if i == 0 else "",
                p["name"],
                p["model"],
                nodes,
                in_use,
                cost,
                p["pflops_fp16"],
            )
    return table
