"""API keys and database passwords: from the environment or a 0600 file, never from config.

Secret values are wrapped in `Secret`, whose repr and str never show the value, so an
accidental log line or exception message cannot leak it.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path


class SecretError(Exception):
    pass


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__


# Environment variable names; the secrets file uses the same names as keys.
ENV_NAMES = {
    "live_api_key": "TRIFACTOR_API_KEY",
    "live_api_secret": "TRIFACTOR_API_SECRET",
    "testnet_api_key": "TRIFACTOR_TESTNET_API_KEY",
    "testnet_api_secret": "TRIFACTOR_TESTNET_API_SECRET",
    "db_password": "TRIFACTOR_DB_PASSWORD",
}


_NAME_SHAPED = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def read_secrets_file(path: Path) -> dict[str, str]:
    """KEY=value lines; the file must be owned by us and not readable by group or others.

    Errors name the file and the line, never what is on it: a malformed line may be a key.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SecretError(f"secrets file {path} does not exist") from None
    if st.st_uid != os.getuid():
        raise SecretError(f"secrets file {path} belongs to another user (uid {st.st_uid}); "
                          f"it must be your own file with mode 600")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"secrets file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod 600 {path}"
        )
    known = ", ".join(sorted(ENV_NAMES.values()))
    values: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SecretError(f"secrets file {path}, line {n}: expected KEY=value (one of {known})")
        key, value = line.split("=", 1)
        key = key.strip()
        if key not in ENV_NAMES.values():
            # Only a name-shaped key is repeated: anything else may be a pasted secret.
            named = f" {key}" if _NAME_SHAPED.fullmatch(key) else ""
            raise SecretError(f"secrets file {path}, line {n}: the key{named} is not one of {known}")
        values[key] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Secrets:
    live_api_key: Secret
    live_api_secret: Secret
    testnet_api_key: Secret
    testnet_api_secret: Secret
    db_password: Secret

    @classmethod
    def load(cls, secrets_file: Path | None = None, environ: dict[str, str] | None = None) -> "Secrets":
        env = os.environ if environ is None else environ
        from_file = read_secrets_file(secrets_file) if secrets_file else {}
        values = {}
        for field_name, env_name in ENV_NAMES.items():
            values[field_name] = Secret(env.get(env_name) or from_file.get(env_name, ""))
        return cls(**values)

    def keys_for(self, mode: str) -> tuple[Secret, Secret] | None:
        """The (key, secret) pair for a trading mode, or None when it is not configured."""
        if mode == "live":
            pair = (self.live_api_key, self.live_api_secret)
        elif mode == "testnet":
            pair = (self.testnet_api_key, self.testnet_api_secret)
        else:
            return None
        return pair if all(pair) else None

    def all_values(self) -> list[str]:
        """Every non-empty secret, so log filters can redact them."""
        return [s.reveal() for s in vars(self).values() if s]
