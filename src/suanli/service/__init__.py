"""The imperative shell: use cases (submit, cancel, run a scheduling cycle, take agent reports ...).

Each use case takes a `Context` (store, clock, settings) and a `Principal`, checks the caller's rights,
calls the pure cores, and writes through the store's ports. Nothing here knows about HTTP.
"""
