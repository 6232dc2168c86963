"""`suanli invoice` and `suanli settlement`: a tenant's monthly invoice and a centre's monthly settlement
statement, as a table on the terminal or as CSV or printable HTML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from suanli.client import ApiError, SuanliClient

Server = Annotated[str | None, typer.Option("--server", help="API URL (default: from `suanli login`)")]
Token = Annotated[str | None, typer.Option("--token", help="API token (default: from `suanli login`)")]
Month = Annotated[str, typer.Argument(help="the month, YYYY-MM (city time)")]
Format = Annotated[str, typer.Option(help="table, csv or html (printable)")]
Output = Annotated[str | None, typer.Option("--output", "-o", help="write to this file")]


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


def check_format(fmt: str) -> str:
    """The API format for a `--format` choice (table is drawn from JSON)."""
    if fmt not in ("table", "csv", "html"):
        raise typer.BadParameter("choose table, csv or html", param_hint="--format")
    return "json" if fmt == "table" else fmt


def emit(out: Console, body: str, output: str | None, what: str) -> None:
    """Write a CSV or HTML document to `output`, or to standard output."""
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(body)
        out.print(f"{what} written to {output}")
    else:
        print(body, end="")


def register(
    app: typer.Typer,
    out: Console,
    client: Callable[[str | None, str | None], SuanliClient],
    explain: Callable[[ApiError], NoReturn],
) -> None:
    def fetch(fetcher: Callable[[str], Any], fmt: str) -> Any:
        api_format = check_format(fmt)
        try:
            return fetcher(api_format)
        except ApiError as exc:
            explain(exc)

    @app.command()
    def invoice(
        month: Month,
        tenant: Annotated[str | None, typer.Option(help="tenant id or name (default: your own)")] = None,
        format: Format = "table",
        output: Output = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A tenant's monthly invoice: every charge, voucher deductions, payments, balances."""
        c = client(server, token)

        def get(fmt: str) -> Any:
            return c.invoice(tenant or c.me()["tenant"]["id"], month, fmt)

        body = fetch(get, format)
        if format != "table":
            emit(out, body, output, "invoice")
            return
        table = Table("when", "job", "where", "model", "quantity", "price", "amount", box=None, pad_edge=False)
        for line in body["charges"]:
            where = f"{line['centre']}/{line['pool']}"
            table.add_row(_when(line["at"]), line["job_id"], where, line["model"],
                          f"{line['quantity']} {line['unit']}", line["price"], line["amount"])  # fmt: skip
        for o in body["others"]:
            table.add_row(_when(o["at"]), o["kind"], "", "", "", "", o["amount"])
        out.print(f"invoice of [bold]{body['tenant']}[/] for {body['month']} (CNY)")
        out.print(table)
        t = body["totals"]
        out.print(
            f"brought forward {t['opening']} + charges {t['charged']} - refunds {t['refunded']} "
            f"- vouchers {t['subsidised']} "
            f"- payments {t['paid']} + adjustments {t['adjusted']} = [bold]balance due {t['closing']}[/]"
        )

    @app.command()
    def settlement(
        month: Month,
        centre: Annotated[str, typer.Option(help="centre id or name")],
        format: Format = "table",
        output: Output = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A centre's monthly settlement statement: deliveries, platform fee, payouts, what it is owed."""
        c = client(server, token)
        body = fetch(lambda fmt: c.settlement(centre, month, fmt), format)
        if format != "table":
            emit(out, body, output, "settlement statement")
            return
        table = Table("pool", "model", "quantity", "gross", "fee", "net", box=None, pad_edge=False)
        for p in body["by_pool"]:
            table.add_row(p["pool"], p["model"], f"{p['quantity']} {p['unit']}", p["gross"], p["fee"], p["net"])
        out.print(f"settlement of [bold]{body['centre']}[/] ({body['operator']}) for {body['month']} (CNY)")
        out.print(table)
        t = body["totals"]
        out.print(
            f"owed at the start {t['opening_owed']} + earned {t['net_delivered']} (charged {t['gross']}, "
            f"fee {t['platform_fee']}) - paid {t['paid_out']} = [bold]owed {t['closing_owed']}[/]"
        )
        if t["voucher_funded"] != "0.00":
            out.print(f"of the charges, {t['voucher_funded']} CNY was deducted by compute vouchers (paid by the fund)")
