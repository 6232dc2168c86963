"""A voucher programme's report (专项资金使用情况): budget, committed, granted, paid and clawed back; claims by
state; enterprises served; fees covered and subsidy by industry, centre and accelerator class; each funder's
share. Pure: the service gathers claims, their lines and the ledger's figures; this module adds them up (to the
fen, so every breakdown sums exactly to the granted total) and writes them out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from suanli.billing.documents import csv_text, esc, local, money, page, table, totals_table
from suanli.domain.ledger import ZERO
from suanli.domain.money import FEN
from suanli.domain.vouchers import OPEN_STATES, Claim, ClaimLine, Programme


@dataclass(frozen=True)
class ClaimFacts:
    """A claim with what the report needs of its tenant and lines (centre names resolved)."""

    claim: Claim
    tenant: str
    industry: str
    lines: tuple[tuple[ClaimLine, str], ...]  # (line, centre name)


@dataclass(frozen=True)
class Share:
    key: str
    fees: Decimal  # fees covered by granted claims
    subsidy: Decimal  # net subsidy granted, attributed to these fees


@dataclass(frozen=True)
class ProgrammeReport:
    programme: Programme
    committed: Decimal  # the fund's reservations: claims in review plus granted, net of clawbacks
    granted_in_ledger: Decimal  # the programme's granted account: subsidy granted, net of clawbacks
    paid: Decimal  # what the programme's treasury paid out
    claims: tuple[ClaimFacts, ...]
    issued_at: datetime

    @property
    def budget(self) -> Decimal:
        return self.programme.annual_budget

    @property
    def granted(self) -> Decimal:
        return sum((f.claim.granted - f.claim.clawed_back for f in self.claims), ZERO)

    @property
    def clawed_back(self) -> Decimal:
        return sum((f.claim.clawed_back for f in self.claims), ZERO)

    @property
    def in_review(self) -> Decimal:
        """Reserved by claims still in review."""
        return sum((f.claim.amount - f.claim.clawed_back for f in self.claims if f.claim.state in OPEN_STATES), ZERO)

    @property
    def left(self) -> Decimal:
        return self.budget - self.committed

    @property
    def reconciles(self) -> bool:
        """The claims and the ledger agree on what was granted."""
        return self.granted == self.granted_in_ledger

    def by_state(self) -> list[tuple[str, int, Decimal]]:
        out: dict[str, tuple[int, Decimal]] = {}
        for f in self.claims:
            n, amount = out.get(f.claim.state.value, (0, ZERO))
            out[f.claim.state.value] = (n + 1, amount + f.claim.amount)
        return [(state, n, amount) for state, (n, amount) in sorted(out.items())]

    def enterprises_served(self) -> int:
        """Entities granted a subsidy (net of clawbacks) under the programme."""
        return len({f.claim.tenant_id for f in self.claims if f.claim.granted - f.claim.clawed_back > 0})

    def by_industry(self) -> list[Share]:
        return self._shares(lambda f, _line, _centre: f.industry or "-")

    def by_centre(self) -> list[Share]:
        return self._shares(lambda _f, _line, centre: centre)

    def by_class(self) -> list[Share]:
        return self._shares(lambda _f, line, _centre: line.resource_class.value)

    def funding(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(funder, share, granted, paid) per funder; the last funder takes the rounding so the columns sum."""
        return [(name, share, g, p) for (name, share), g, p in
                zip(self.programme.funding, _split(self.granted, self.programme.funding),
                    _split(self.paid, self.programme.funding), strict=True)]  # fmt: skip

    def _shares(self, key: Callable[[ClaimFacts, ClaimLine, str], str]) -> list[Share]:
        fees: dict[str, Decimal] = {}
        subsidy: dict[str, Decimal] = {}
        for f in self.claims:
            net = f.claim.granted - f.claim.clawed_back
            if net <= 0 or not f.lines:
                continue
            for (line, centre), part in zip(f.lines, _attribute(net, [ln.subsidy for ln, _ in f.lines]), strict=True):
                k = key(f, line, centre)
                fees[k] = fees.get(k, ZERO) + line.base
                subsidy[k] = subsidy.get(k, ZERO) + part
        return [Share(k, fees[k], subsidy[k]) for k in sorted(fees)]


def _attribute(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` spread over `weights` in whole fen, rounding down and giving the remainder to the last part."""
    whole = sum(weights, ZERO)
    if whole <= 0:
        return [ZERO] * (len(weights) - 1) + [total]
    parts = [(total * w / whole).quantize(FEN, rounding=ROUND_DOWN) for w in weights[:-1]]
    return [*parts, total - sum(parts, ZERO)]


def _split(total: Decimal, funding: Iterable[tuple[str, Decimal]]) -> list[Decimal]:
    return _attribute(total, [share for _, share in funding])


def _share_rows(shares: Iterable[Share]) -> list[list[str]]:
    return [[s.key, money(s.fees), money(s.subsidy)] for s in shares]


def to_csv(report: ProgrammeReport) -> str:
    """Sections as rows: totals, claims by state, the three breakdowns and the funding split."""
    r = report
    rows: list[list[object]] = [["section", "key", "count", "share", "fees_cny", "amount_cny", "paid_cny"]]
    rows += [["total", name, "", "", "", money(v), ""] for name, v in _totals(r, english=True)]
    rows.append(["total", "enterprises_served", r.enterprises_served(), "", "", "", ""])
    rows += [["state", state, n, "", "", money(amount), ""] for state, n, amount in r.by_state()]
    for section, shares in (("industry", r.by_industry()), ("centre", r.by_centre()), ("class", r.by_class())):
        rows += [[section, x.key, "", "", money(x.fees), money(x.subsidy), ""] for x in shares]
    rows += [["funder", name, "", f"{share}", "", money(g), money(pd)] for name, share, g, pd in r.funding()]
    return csv_text(rows)


def _totals(r: ProgrammeReport, english: bool = False) -> list[tuple[str, Decimal]]:
    rows = [
        ("budget", "年度预算 Annual budget", r.budget),
        ("committed", "已承诺 Committed (in review + granted)", r.committed),
        ("in_review", "审核中 Reserved by claims in review", r.in_review),
        ("granted", "已发放 Granted, net of clawbacks", r.granted),
        ("clawed_back", "已追回 Clawed back", r.clawed_back),
        ("paid", "已拨付 Paid out by the fund", r.paid),
        ("left", "剩余额度 Budget left", r.left),
    ]
    return [(code if english else label, value) for code, label, value in rows]


def to_html(report: ProgrammeReport) -> str:
    """A printable page, headings in Chinese and English; every value escaped."""
    r, p = report, report.programme
    states = table(["状态 State", "笔数 Claims", "金额 Amount"], ([s, str(n), money(a)] for s, n, a in r.by_state()),
                   numeric=(1, 2))  # fmt: skip
    heads = ["", "覆盖费用 Fees covered", "补贴 Subsidy"]
    funding = table(
        ["出资方 Funder", "比例 Share", "已发放 Granted", "已拨付 Paid"],
        ([name, f"{share}", money(g), money(pd)] for name, share, g, pd in r.funding()),
        numeric=(1, 2, 3),
    )
    check = "一致 reconciles" if r.reconciles else f"不一致 DOES NOT reconcile: ledger {money(r.granted_in_ledger)}"
    intro = (
        f"项目 Programme: <b>{esc(p.name_zh or p.name)}</b> / {esc(p.name)} ({esc(p.id)} v{p.version}) · 发布方 Issuer:"
        f" {esc(p.issuer)} · 年度 Year: {p.year} · 方式 Mode: {esc(p.mode.value)} · 服务企业 Enterprises served:"
        f" <b>{r.enterprises_served()}</b> · 与账本核对 Ledger check: {esc(check)} · 出具时间 Issued:"
        f" {esc(local(r.issued_at))} (UTC+8) · 金额单位 Amounts in CNY"
    )
    return page(
        f"算力券专项资金报告 Voucher programme report — {esc(p.id)} {p.year}",
        "算力券专项资金报告 Voucher programme report",
        intro,
        (
            ("资金概况 Budget", totals_table(_totals(r))),
            ("申请状态 Claims by state", states),
            ("按行业 By industry", table(["行业 Industry", *heads[1:]], _share_rows(r.by_industry()), (1, 2))),
            ("按算力中心 By centre", table(["中心 Centre", *heads[1:]], _share_rows(r.by_centre()), (1, 2))),
            ("按算力类别 By resource class", table(["类别 Class", *heads[1:]], _share_rows(r.by_class()), (1, 2))),
            ("出资分担 Funding split", funding),
        ),
    )
