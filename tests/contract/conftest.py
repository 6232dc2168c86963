"""Fixtures of the contract suites."""

from tests.contract.child_platform import child_platform  # noqa: F401 - a fixture
