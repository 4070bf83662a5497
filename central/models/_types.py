"""Column types shared by the table models, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# Epoch microseconds (UTC).
Micros = BigInteger
# Seq numbers and counts an agent reports (64-bit on the wire).
Big = BigInteger
# A 64-bit surrogate key that is still SQLite's rowid alias (only INTEGER PRIMARY KEY is).
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSON documents; binary JSON on PostgreSQL so they can be indexed later.
Json = JSON().with_variant(JSONB(), "postgresql")
