"""MariaDB/MySQL failures sorted into "try later" and "tell the operator", in plain words."""
from __future__ import annotations

import socket
import ssl

import pymysql

from storage.url import StoreUrl

# Server and client error codes that mean "the database cannot serve us right now".
_TRANSIENT_CODES = {
    1040,  # too many connections
    1044, 1045,  # access denied (a rotated password): keep the rows, tell the operator
    1053,  # server shutdown in progress
    1205, 1213,  # lock wait timeout, deadlock
    1927,  # connection killed
    2002, 2003, 2005, 2006, 2013, 2014, 2055,  # cannot connect, gone away, lost, out of sync
}
_BROKEN_CONNECTION_CODES = {2006, 2013, 2014, 2055, 1927}


def error_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_transient(error: BaseException) -> bool:
    if isinstance(error, (OSError, pymysql.err.InterfaceError)):  # includes timeouts and resets
        return True
    return isinstance(error, pymysql.err.OperationalError) and error_code(error) in _TRANSIENT_CODES


def broken_connection(error: BaseException) -> bool:
    return isinstance(error, (ConnectionError, pymysql.err.InterfaceError)) or error_code(error) in _BROKEN_CONNECTION_CODES


def unreachable(error: BaseException) -> bool:
    """The server does not answer or the connection broke: worth waiting for."""
    code = error_code(error)
    return (code in (2002, 2003) or code in _BROKEN_CONNECTION_CODES or isinstance(error, TimeoutError)
            or isinstance(error, (ConnectionError, pymysql.err.InterfaceError))) and \
        not isinstance(error.__cause__, socket.gaierror)


def reason(error: BaseException, url: StoreUrl) -> str:
    """What went wrong, in words an operator can act on (never the password)."""
    code = error_code(error)
    cause = error.__cause__
    if isinstance(cause, socket.gaierror):
        return f"unknown host {url.host!r}"
    if code == 1045:
        return f"access denied for user {url.user!r} (check the password in TRIFACTOR_DB_PASSWORD)"
    if code == 1044:
        return f"user {url.user!r} has no access to database {url.database!r}"
    if code == 1049:
        return (f"database {url.database!r} does not exist (trifactor creates it when user {url.user!r} "
                f"may: `trifactor db upgrade`)")
    if isinstance(cause, ssl.SSLError) or isinstance(error, ssl.SSLError):
        return f"TLS failed ({cause or error})"
    if code in (2002, 2003):
        why = f" ({cause.strerror or cause})" if isinstance(cause, OSError) else ""
        return f"the server does not answer{why}"
    if isinstance(error, TimeoutError):
        return "no answer within the timeout"
    if code in _BROKEN_CONNECTION_CODES or isinstance(error, (ConnectionError, pymysql.err.InterfaceError)):
        return "the connection was lost"
    return str(error.args[1] if len(error.args) > 1 else error)
