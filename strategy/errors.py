"""Errors raised on bad input."""

from __future__ import annotations


class InvalidBarError(ValueError):
    """A bar that cannot enter the pipeline: a missing or non-finite field, a
    non-positive close, or a timestamp not after the previous bar's."""
