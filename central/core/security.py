"""Secrets: bearer tokens for agents and users, and password hashes.

Tokens are 32 random bytes, shown once to whoever created them and stored only as a SHA-256
hash (a hash of 256 random bits needs no salt or slow KDF: it cannot be brute-forced). The
prefix (``hse_agent_`` / ``hse_user_`` / ``hse_api_`` for integrations) tells the kinds apart
before any lookup, so a user token sent to the ingest endpoint is refused for what it is, and
secret scanners can spot a leaked token. Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106).

Nothing here logs; callers never log a token, a password or a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32
MIN_PASSWORD_CHARS = 10


class TokenKind(StrEnum):
    AGENT = "agent"
    USER = "user"
    API = "api"


_PREFIX = {TokenKind.AGENT: "hse_agent_", TokenKind.USER: "hse_user_", TokenKind.API: "hse_api_"}
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a failed login takes the same time
# whether or not the name is known.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token(kind: TokenKind) -> str:
    """A fresh bearer token of ``kind``; show it once, store :func:`hash_token` of it."""
    return _PREFIX[kind] + secrets.token_urlsafe(TOKEN_BYTES)


def token_kind(token: str) -> TokenKind | None:
    for kind, prefix in _PREFIX.items():
        if token.startswith(prefix):
            return kind
    return None


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: what the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; constant work whether or not a hash exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
