"""A small Python SDK for the suanli REST API (used by the CLI; usable from notebooks and scripts)."""

from suanli.client.api import ApiError, SuanliClient

__all__ = ["ApiError", "SuanliClient"]
