"""Tokens and passwords: kinds told apart by prefix, only hashes kept, argon2 for passwords."""

from __future__ import annotations

import time

import pytest

from central.core import security
from central.core.security import TokenKind
from central.crud import AgentContext
from central.ingest.service import AgentCache


def test_tokens_are_random_prefixed_and_hashed() -> None:
    a, b = security.new_token(TokenKind.AGENT), security.new_token(TokenKind.AGENT)
    assert a != b
    assert a.startswith("hse_agent_")
    assert len(a) - len("hse_agent_") >= 43  # 32 bytes of base64url
    assert security.token_kind(a) == TokenKind.AGENT
    assert security.token_kind(security.new_token(TokenKind.USER)) == TokenKind.USER
    assert security.token_kind("Bearer whatever") is None
    digest = security.hash_token(a)
    assert len(digest) == 64
    assert a not in digest
    assert security.hash_token(a) == digest
    assert security.same_hash(digest, security.hash_token(a))


def test_passwords_are_argon2_and_verified() -> None:
    stored = security.hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    assert "a long enough password" not in stored
    assert security.verify_password("a long enough password", stored)
    assert not security.verify_password("a long enough passwore", stored)
    assert not security.verify_password("anything at all", None)
    assert not security.verify_password("anything at all", "not a hash")
    with pytest.raises(ValueError, match="at least 10 characters"):
        security.hash_password("short")


def test_agent_cache_expires_and_stays_bounded() -> None:
    agent = AgentContext(1, "a", 1, "p")
    cache = AgentCache(ttl_s=0.05, max_entries=2)
    cache.put("k1", agent)
    assert cache.get("k1") == agent
    cache.put("k2", agent)
    cache.put("k3", agent)  # over the bound: starts afresh
    assert cache.get("k1") is None
    assert cache.get("k3") == agent
    deadline = time.monotonic() + 2
    while cache.get("k3") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("k3") is None
    off = AgentCache(ttl_s=0)
    off.put("k", agent)
    assert off.get("k") is None
