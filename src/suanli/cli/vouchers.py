"""`suanli vouchers ...`: programmes, applying with the pledge, claims, review, payout and clawback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from suanli.cli.documents import check_format, emit
from suanli.client import ApiError, SuanliClient

Server = Annotated[str | None, typer.Option("--server", help="API URL (default: from `suanli login`)")]
Token = Annotated[str | None, typer.Option("--token", help="API token (default: from `suanli login`)")]
ClaimId = Annotated[str, typer.Argument(help="claim id")]


def claims_table(items: list[dict[str, Any]]) -> Table:
    table = Table("id", "programme", "tenant", "state", "amount", "used", "next step", box=None, pad_edge=False)
    for c in items:
        cut = f" (cut: {c['limited_by']})" if c["limited_by"] else ""
        table.add_row(
            c["id"], c["programme_id"], c["tenant_id"], c["state"], c["amount"] + cut, c["used"], c["next_step"] or ""
        )
    return table


def print_claim(out: Console, c: dict[str, Any]) -> None:
    out.print(f"claim {c['id']}  {c['programme_id']} v{c['programme_version']}  contract {c['contract']}")
    out.print(f"state: {c['state']}" + (f"; waiting for the {c['next_step']}" if c["next_step"] else ""))
    cut = f" (cut by {c['limited_by']})" if c["limited_by"] else ""
    out.print(f"requested {c['requested']} CNY, reserved {c['amount']} CNY{cut}")
    if c["mode"] == "reimburse":
        out.print(
            f"paid fees covered: {c['base']} CNY"
            + (f"; not yet paid, left out: {c['unpaid']}" if c.get("unpaid", "0.00") != "0.00" else "")
        )
    else:
        out.print(f"drawn down: {c['used']} CNY")
    if c["clawed_back"] != "0.00":
        out.print(f"clawed back: {c['clawed_back']} CNY")
    if c["lines"]:
        table = Table("usage entry", "model", "class", "fee", "rate", "tier", "subsidy", box=None, pad_edge=False)
        for x in c["lines"]:
            table.add_row(x["entry_id"], x["model"], x["resource_class"], x["base"], x["rate"], x["tier"], x["subsidy"])
        out.print(table)
    for r in c.get("refused", [])[:10]:
        out.print(f"  not covered: {r['entry_id']}: {r['rule']}: {r['reason']}")
    out.print("audit log:")
    for e in c["events"]:
        when = e["at"][:19].replace("T", " ")
        change = f"{e['from_state'] or '-'} -> {e['to_state']}"
        out.print(f"  {when}  {change}  by {e['actor']} ({e['role']}): {e['reason']}")


def register(
    app: typer.Typer,
    out: Console,
    client: Callable[[str | None, str | None], SuanliClient],
    explain: Callable[[ApiError], NoReturn],
) -> None:
    v = typer.Typer(help="Compute vouchers (算力券): programmes, claims and their review.")
    app.add_typer(v, name="vouchers")

    def call(server: str | None, token: str | None, method: str, path: str, **kw: Any) -> Any:
        try:
            return client(server, token).request(method, path, **kw)
        except ApiError as exc:
            explain(exc)

    @v.command("programmes")
    def programmes(server: Server = None, token: Token = None) -> None:
        """Voucher programmes: mode, budget and what is committed."""
        table = Table("id", "version", "year", "mode", "budget", "committed", "name", box=None, pad_edge=False)
        for p in call(server, token, "GET", "/v1/voucher-programmes"):
            name = p["name"] + (f" / {p['name_zh']}" if p["name_zh"] else "")
            table.add_row(
                p["id"], str(p["version"]), str(p["year"]), p["mode"], p["annual_budget"], p["committed"], name
            )
        out.print(table)

    @v.command("show")
    def show(
        programme: str,
        version: Annotated[int | None, typer.Option(help="an earlier version")] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A programme's rules as published (YAML)."""
        params = {"version": version} if version else {}
        p = call(server, token, "GET", f"/v1/voucher-programmes/{programme}", params=params)
        out.print(f"# versions {p['versions']}; published {p['published_at']} by {p['published_by']}")
        out.print(yaml.safe_dump(p["data"], allow_unicode=True, sort_keys=False), highlight=False)

    @v.command("publish")
    def publish(
        file: Annotated[Path, typer.Argument(help="the programme as YAML (see docs/vouchers.md)", exists=True)],
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Publish a programme or a new version of one (city admins)."""
        body = yaml.safe_load(file.read_text(encoding="utf-8"))
        p = call(server, token, "POST", "/v1/voucher-programmes", json=body)
        out.print(f"published {p['id']} version {p['version']}")

    @v.command("apply")
    def apply(
        programme: str,
        contract: Annotated[str, typer.Option(help="the contract or order claimed under (one claim per contract)")],
        pledge: Annotated[bool, typer.Option("--pledge", help="give the truthfulness pledge (required)")] = False,
        amount: Annotated[str | None, typer.Option(help="deduct programmes: the voucher asked for, CNY")] = None,
        tenant: Annotated[str | None, typer.Option(help="tenant id or name (default: your own)")] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Apply under a programme (tenant admins). Reimburse programmes claim the year's paid usage."""
        c = client(server, token)
        try:
            name = tenant or c.me()["tenant"]["id"]
            body = {"programme_id": programme, "contract": contract, "pledge": pledge, "amount": amount}
            claim = c.request("POST", f"/v1/tenants/{name}/claims", json=body)
        except ApiError as exc:
            explain(exc)
        print_claim(out, claim)

    @v.command("claims")
    def claims(
        state: Annotated[str | None, typer.Option(help="comma-separated states, e.g. submitted,aggregated")] = None,
        programme: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Claims you may see (tenants: their own; reviewers and city admins: all)."""
        params = {k: x for k, x in (("state", state), ("programme", programme), ("tenant", tenant)) if x}
        page = call(server, token, "GET", "/v1/claims", params={**params, "limit": limit})
        out.print(claims_table(page["items"]))

    @v.command("claim")
    def claim(claim_id: ClaimId, server: Server = None, token: Token = None) -> None:
        """A claim with the usage it covers and its audit log."""
        print_claim(out, call(server, token, "GET", f"/v1/claims/{claim_id}"))

    @v.command("review")
    def review(
        claim_id: ClaimId,
        approve: Annotated[bool, typer.Option("--approve/--reject", help="pass or reject the step")],
        reason: Annotated[str, typer.Option(help="recorded in the audit log (required to reject)")] = "",
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Pass or reject the review step the claim waits for (district reviewer, city admin or expert)."""
        body = {"decision": "approve" if approve else "reject", "reason": reason}
        print_claim(out, call(server, token, "POST", f"/v1/claims/{claim_id}/review", json=body))

    @v.command("withdraw")
    def withdraw(claim_id: ClaimId, reason: str = "", server: Server = None, token: Token = None) -> None:
        """Withdraw your claim while it is in review (tenant admins)."""
        print_claim(out, call(server, token, "POST", f"/v1/claims/{claim_id}/withdraw", json={"reason": reason}))

    @v.command("payout")
    def payout(
        claim_id: ClaimId,
        reference: Annotated[str, typer.Option(help="the treasury's payment reference")],
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Record the programme's payment on a claim (city admins)."""
        e = call(server, token, "POST", f"/v1/claims/{claim_id}/payout", json={"reference": reference})
        out.print(f"{e['id']}: {e['memo']}")

    @v.command("clawback")
    def clawback(
        claim_id: ClaimId,
        amount: Annotated[str, typer.Argument(help='CNY, e.g. "1200.00"')],
        reason: Annotated[str, typer.Option(help="why (kept in the ledger and the audit log)")],
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Claw back part or all of a granted subsidy, by a new ledger entry (city admins)."""
        body = {"amount": amount, "reason": reason}
        e = call(server, token, "POST", f"/v1/claims/{claim_id}/clawback", json=body)
        out.print(f"{e['id']}: {e['memo']}")

    @v.command("report")
    def report(
        programme: str,
        format: Annotated[str, typer.Option(help="table, csv or html (printable)")] = "table",
        output: Annotated[str | None, typer.Option("--output", "-o", help="write to this file")] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """A programme's report (city admins, auditors): budget, granted, paid, enterprises served, breakdowns."""
        api_format = check_format(format)
        try:
            r = client(server, token).programme_report(programme, api_format)
        except ApiError as exc:
            explain(exc)
        if format != "table":
            emit(out, r, output, "programme report")
            return
        p, t = r["programme"], r["totals"]
        out.print(f"[bold]{p['name']}[/] ({p['id']} v{p['version']}, {p['year']}, {p['mode']}) — CNY")
        out.print(
            f"budget {t['budget']}: committed {t['committed']} (in review {t['in_review']}), granted {t['granted']}"
            f" (clawed back {t['clawed_back']}), paid {t['paid']}, left {t['left']}"
        )
        check = "[green]reconciles with the ledger[/]" if r["reconciles"] else "[red]does NOT reconcile[/]"
        out.print(f"enterprises served: {r['enterprises_served']}; {check} (ledger: {r['granted_in_ledger']})")
        for title, key in (("industry", "by_industry"), ("centre", "by_centre"), ("class", "by_class")):
            table = Table(title, "fees covered", "subsidy", box=None, pad_edge=False)
            for row in r[key]:
                table.add_row(row["key"], row["fees"], row["subsidy"])
            out.print(table)
        funders = ", ".join(
            f"{f['funder']} {f['share']}: granted {f['granted']}, paid {f['paid']}" for f in r["funding"]
        )
        out.print(f"funding: {funders}")

    @v.command("pack")
    def pack(
        claim_id: ClaimId,
        output: Annotated[
            str | None, typer.Option("--output", "-o", help="the ZIP file (default: claim-<id>.zip)")
        ] = None,
        server: Server = None,
        token: Token = None,
    ) -> None:
        """Download a claim's pack (ZIP): the claim and its audit log, usage evidence, invoices, a manifest."""
        try:
            data = client(server, token).claim_pack(claim_id)
        except ApiError as exc:
            explain(exc)
        path = Path(output or f"claim-{claim_id}.zip")
        path.write_bytes(data)
        out.print(f"claim pack written to {path} ({len(data)} bytes)")

    @v.command("close")
    def close(programme: str, server: Server = None, token: Token = None) -> None:
        """After a deduct programme's year has ended: release what its vouchers left unused (city admins)."""
        r = call(server, token, "POST", f"/v1/voucher-programmes/{programme}/close")
        out.print(f"{r['programme_id']}: {r['vouchers']} voucher(s) closed, {r['released']} CNY released to the budget")
