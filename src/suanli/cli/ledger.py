"""`suanli account` and `suanli ledger ...`: balances, entries, payments, payouts, reversals, the check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from suanli.client import ApiError, SuanliClient

Server = Annotated[str | None, typer.Option("--server", help="API URL (default: from `suanli login`)")]
Token = Annotated[str | None, typer.Option("--token", help="API token (default: from `suanli login`)")]
Amount = Annotated[str, typer.Argument(help='CNY, e.g. "1200.00"')]
Reference = Annotated[str, typer.Option(help="the bank's reference (recorded once)")]


def entries_table(items: list[dict[str, Any]]) -> Table:
    table = Table("id", "when", "kind", "account", "amount", "memo", box=None, pad_edge=False)
    for e in items:
        for i, p in enumerate(e["postings"]):
            first = i == 0
            table.add_row(
                e["id"] if first else "",
                e["occurred_at"][:19].replace("T", " ") if first else "",
                e["kind"] if first else "",
                p["account"],
                p["amount"],
                e["memo"] if first else "",
            )
    return table


def register(
    app: typer.Typer,
    out: Console,
    client: Callable[[str | None, str | None], SuanliClient],
    explain: Callable[[ApiError], NoReturn],
) -> None:
    ledger = typer.Typer(help="The double-entry ledger: entries, balances, payments, payouts, the check.")
    app.add_typer(ledger, name="ledger")

    @app.command()
    def account(
        tenant: Annotated[str | None, typer.Argument(help="tenant id or name (default: your own)")] = None,
        since: Annotated[str | None, typer.Option(help="start of the period, ISO date or time")] = None,
        until: Annotated[str | None, typer.Option(help="end of the period (exclusive)")] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A tenant's balance, and what was charged and paid in a period."""
        c = client(server, token)
        try:
            name = tenant or c.me()["tenant"]["id"]
            a = c.account(name, since, until)
        except ApiError as exc:
            explain(exc)
        period = f" from {a['since'] or 'the start'} to {a['until'] or 'now'}" if since or until else ""
        out.print(f"balance owed: {a['balance']} CNY")
        out.print(f"charged{period}: {a['charged']} CNY; paid: {a['paid']} CNY")
        if a.get("subsidised", "0.00") != "0.00":
            out.print(f"deducted by compute vouchers: {a['subsidised']} CNY")

    @app.command()
    def budget(
        tenant: Annotated[str | None, typer.Argument(help="tenant id or name (default: your own)")] = None,
        project: Annotated[str | None, typer.Option(help="a project's budget instead of the tenant's")] = None,
        projects: Annotated[bool, typer.Option("--projects", help="list the projects' budgets")] = False,
        set_to: Annotated[str | None, typer.Option("--set", help='new monthly budget in CNY, e.g. "5000"')] = None,
        clear: Annotated[bool, typer.Option("--clear", help="remove the monthly budget (no cap)")] = False,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A monthly budget (the tenant's, or a project's with --project): charged, held for jobs placed, and
        left; --set or --clear changes it; --projects lists every project's."""
        c = client(server, token)
        try:
            name = tenant or c.me()["tenant"]["id"]
            if projects:
                rows = c.project_budgets(name)
            elif set_to is not None or clear:
                rows = [c.set_budget(name, None if clear else set_to, project)]
            else:
                rows = [c.budget(name, project)]
        except ApiError as exc:
            explain(exc)
        if projects and not rows:
            out.print("no project has a budget or spending this month")
        for b in rows:
            whose = f"project {b['project']}: " if b.get("project") else ""
            if b["monthly_budget"] is None:
                out.print(f"{whose}no monthly budget (no cap); charged this month: {b['charged']} CNY")
                continue
            out.print(
                f"{whose}monthly budget {b['monthly_budget']} CNY: charged {b['charged']}, held for jobs placed "
                f"{b['held']}, left {b['left']}"
            )

    @ledger.command("entries")
    def list_entries(
        tenant: Annotated[str | None, typer.Option(help="only this tenant's entries")] = None,
        centre: Annotated[str | None, typer.Option(help="only this centre's entries")] = None,
        kind: Annotated[str | None, typer.Option(help="usage, payment, payout, reversal (comma-separated)")] = None,
        limit: Annotated[int, typer.Option(help="most entries shown")] = 50,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Ledger entries you may see, oldest first."""
        try:
            page = client(server, token).entries(tenant=tenant, centre=centre, kind=kind, limit=limit)
        except ApiError as exc:
            explain(exc)
        out.print(entries_table(page["items"]))
        if page["next_cursor"]:
            out.print(f"(more: --limit above {limit})")

    @ledger.command("balances")
    def balances(
        prefix: Annotated[str, typer.Option(help="only accounts starting with this")] = "",
        server: Server = None,
        token: Token = None,
    ) -> None:
        """The trial balance: every account's balance (city admins and auditors)."""
        try:
            data = client(server, token).balances(prefix)
        except ApiError as exc:
            explain(exc)
        table = Table("account", "balance (CNY)", box=None, pad_edge=False)
        for account_code, amount in data.items():
            table.add_row(account_code, amount)
        out.print(table)

    @ledger.command("verify")
    def verify(
        direct: Annotated[
            bool, typer.Option("--direct", help="read the platform database itself (SUANLI_DATABASE_URL), no API")
        ] = False,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Prove the books balance, every usage record is charged exactly once and no voucher budget or cap is
        overspent; exit 1 if not."""
        if direct:
            r = _verify_direct()
        else:
            try:
                r = client(server, token).verify_ledger()
            except ApiError as exc:
                explain(exc)
        for f in r["findings"]:
            out.print(f"[red]{f['rule']}[/] {f['subject']}: {f['detail']}")
        verdict = "[green]ok[/]" if r["ok"] else f"[red]{len(r['findings'])} problem(s)[/]"
        out.print(
            f"ledger {verdict}: {r['usage_records']} usage records, {r['usage_entries']} usage entries, "
            f"{r['unbalanced_entries']} unbalanced entries, {r.get('claims', 0)} voucher claims"
        )
        if not r["ok"]:
            raise typer.Exit(1)

    def record(call: Callable[[SuanliClient], dict[str, Any]], server: str | None, token: str | None) -> None:
        try:
            e = call(client(server, token))
        except ApiError as exc:
            explain(exc)
        out.print(f"{e['id']}: {e['memo']}")

    @ledger.command("pay")
    def pay(
        tenant: Annotated[str, typer.Argument(help="tenant id or name")],
        amount: Amount,
        reference: Reference,
        memo: str = "",
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Record a payment received from a tenant (city admins)."""
        record(lambda c: c.record_payment(tenant, amount, reference, memo), server, token)

    @ledger.command("payout")
    def payout(
        centre: Annotated[str, typer.Argument(help="centre id or name")],
        amount: Amount,
        reference: Reference,
        memo: str = "",
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Record a payment made to a centre's operator (city admins)."""
        record(lambda c: c.record_payout(centre, amount, reference, memo), server, token)

    @ledger.command("reverse")
    def reverse(
        entry_id: str,
        reason: Annotated[str, typer.Option(help="why (kept in the ledger)")],
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Undo a payment or payout recorded in error, by a new reversing entry (city admins)."""
        try:
            e = client(server, token).reverse_entry(entry_id, reason)
        except ApiError as exc:
            explain(exc)
        out.print(f"{e['id']}: {e['memo']}")

    @ledger.command("refund")
    def refund(
        entry_id: Annotated[str, typer.Argument(help="the usage entry (le_...) to refund")],
        reason: Annotated[str, typer.Option(help="why (kept in the ledger)")],
        amount: Annotated[
            str | None, typer.Option(help='CNY to give back (default: all that is left), e.g. "72.00"')
        ] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Give back part or all of a usage charge (city admins); a voucher subsidy on it is clawed back."""
        try:
            r = client(server, token).refund(entry_id, reason, amount)
        except ApiError as exc:
            explain(exc)
        out.print(f"{r['refund']['id']}: {r['refund']['memo']}")
        if r["clawback"]:
            out.print(f"{r['clawback']['id']}: {r['clawback']['memo']}")


def _verify_direct() -> dict[str, Any]:
    """The check run on the server's host against its database, as the API would answer it."""
    from suanli.api.dto_billing import VerifyOut
    from suanli.config import load_settings
    from suanli.service.billing import verify_ledger
    from suanli.service.context import Context
    from suanli.store.uow import SqlStore

    settings = load_settings()
    store = SqlStore(settings.resolved_database_url(), migrate_schema=False)
    try:
        return VerifyOut.of(verify_ledger(Context(store, settings))).model_dump()
    finally:
        store.close()
