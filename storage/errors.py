"""The one exception the store raises to its callers, and the backends' signal for "try later"."""
from __future__ import annotations


class StoreError(Exception):
    """A store problem worth telling the operator; the message names the (redacted) URL."""


class Unavailable(Exception):
    """The database cannot take this write now (down, locked, slow); the rows go to the journal.

    Backends raise it for transient failures only; anything else is a bug or a schema problem.
    """


class StoreUnreachable(StoreError):
    """The database does not answer (not running, frozen, locked): waited for, never fatal.

    Everything else that stops the store from opening (a wrong password, TLS refused, a schema
    that is not ours) is a StoreError the operator must fix first.
    """
