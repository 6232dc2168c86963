"""The functional core for money: rating metered usage, ledger postings for each money movement, checks
that the books are sound. Pure: no clock, no database; the service layer feeds it and stores what it makes.
"""
