"""Thin routers: each route parses its input, calls one service function and shapes the answer."""
