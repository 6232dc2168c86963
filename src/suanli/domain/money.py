"""Money is `Decimal` CNY, never float. Postings are in fen (0.01); prices may carry four decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from suanli.domain.errors import FieldError, InvalidInput

FEN = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.0001")
MAX_PRICE = Decimal("1000000")


def parse_money(value: object, field: str, *, quantum: Decimal = PRICE_QUANTUM) -> Decimal:
    """Parse a non-negative amount from a string, int or Decimal; floats are refused (they are inexact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidInput([_err(field, 'give money as a string or integer, e.g. "12.50", never a float')])
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidInput([_err(field, f"not a decimal amount: {value!r}")]) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput([_err(field, "must be a finite amount >= 0")])
    if amount > MAX_PRICE:
        raise InvalidInput([_err(field, f"must be at most {MAX_PRICE}")])
    if amount != amount.quantize(quantum):
        raise InvalidInput([_err(field, f"at most {-quantum.as_tuple().exponent} decimal places")])
    return amount.quantize(quantum)


def to_fen(amount: Decimal) -> Decimal:
    """Round half-up to whole fen, as invoices and postings require."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def _err(field: str, message: str) -> FieldError:
    return FieldError(field, message)


def format_price(amount: Decimal) -> str:
    """For people: "18.0000" -> "18.00", "0.0650" -> "0.065" (two decimals at least, no noise after)."""
    if amount == amount.quantize(FEN):
        return format(amount.quantize(FEN), "f")
    return format(amount.normalize(), "f")
