"""Between OPC UA values and samples: DataValue -> Sample on the way in, value -> Variant out.

Incoming, in this order: the status decides the quality (a Bad value is dropped, never used); a
value that is not a scalar number, boolean or string, or a number that is NaN or infinite, is Bad
(``opcua.BadTypeMismatch`` / ``opcua.not_finite``); a number is scaled ``value * scale + offset``;
the SourceTimestamp is kept as ``source_ts`` (no SourceTimestamp: ``None``, never the receive time).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from protocols.errors import WriteError
from protocols.types import Quality, Sample, Value

from .points import OpcUaPoint
from .status import BAD_TYPE_MISMATCH, quality_of, reason_for

_INTEGER_TYPES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOAT_TYPES = {ua.VariantType.Float, ua.VariantType.Double}


def to_epoch(stamp: datetime | None) -> float | None:
    """POSIX seconds of an OPC UA DateTime (a naive one is UTC, as asyncua decodes them)."""
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def sample_from(point: OpcUaPoint, dv: ua.DataValue, received_ts: float) -> Sample:
    """The sample of ``point`` that ``dv`` carries."""
    code = dv.StatusCode.value if dv.StatusCode is not None else 0
    quality = quality_of(code)
    source_ts = to_epoch(dv.SourceTimestamp)
    raw = dv.Value.Value if dv.Value is not None else None
    if quality is Quality.BAD:
        return Sample(
            point.key,
            None,
            Quality.BAD,
            received_ts,
            source_ts=source_ts,
            reason=reason_for(code),
            status_code=code,
            raw=raw,
        )
    value, problem = _scalar(point, dv.Value)
    if problem is not None:
        return Sample(
            point.key,
            None,
            Quality.BAD,
            received_ts,
            source_ts=source_ts,
            reason=problem,
            status_code=BAD_TYPE_MISMATCH if problem.endswith("TypeMismatch") else code,
            raw=raw,
        )
    return Sample(
        point.key,
        value,
        quality,
        received_ts,
        source_ts=source_ts,
        reason=reason_for(code),
        status_code=code,
        raw=raw,
    )


def _scalar(point: OpcUaPoint, variant: ua.Variant | None) -> tuple[Value, str | None]:
    if variant is None or variant.VariantType == ua.VariantType.Null or variant.Value is None:
        return None, "opcua.null_value"
    value: Any = variant.Value
    if variant.is_array or isinstance(value, list | tuple):
        return None, "opcua.BadTypeMismatch"
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int | float):
        number = float(value) * point.scale + point.offset
        if not math.isfinite(number):
            return None, "opcua.not_finite"
        return number, None
    if isinstance(value, str):
        return value, None
    return None, "opcua.BadTypeMismatch"


def variant_type_of(data_type: ua.NodeId) -> ua.VariantType | None:
    """The built-in VariantType of a DataType node id, or ``None`` for a derived or custom type."""
    if data_type.NamespaceIndex == 0 and isinstance(data_type.Identifier, int):
        try:
            vtype = ua.VariantType(data_type.Identifier)
        except ValueError:
            return None
        return None if vtype == ua.VariantType.Null else vtype
    return None


def to_variant(point: OpcUaPoint, value: Value, vtype: ua.VariantType) -> ua.Variant:
    """``value`` (in the point's unit) as a Variant of the node's type; ``WriteError`` if it cannot be.

    Numbers are unscaled (``(value - offset) / scale``); integers must come out whole and in range.
    """
    where = f"write to OPC UA point {point.key!r} ({point.node_id}, {vtype.name})"
    if value is None:
        raise WriteError(f"{where}: no value given")
    if vtype == ua.VariantType.Boolean:
        if isinstance(value, bool):
            return ua.Variant(value, vtype)
        if isinstance(value, int | float) and value in (0, 1):
            return ua.Variant(bool(value), vtype)
        raise WriteError(f"{where}: {value!r} is not a boolean")
    if vtype == ua.VariantType.String:
        if isinstance(value, str):
            return ua.Variant(value, vtype)
        raise WriteError(f"{where}: {value!r} is not a string")
    if vtype in _FLOAT_TYPES or vtype in _INTEGER_TYPES:
        if isinstance(value, str) or not math.isfinite(float(value)):
            raise WriteError(f"{where}: {value!r} is not a finite number")
        raw = (float(value) - point.offset) / point.scale
        if vtype in _FLOAT_TYPES:
            return ua.Variant(raw, vtype)
        low, high = _INTEGER_TYPES[vtype]
        whole = round(raw)
        if abs(raw - whole) > 1e-9 * max(1.0, abs(raw)) or not low <= whole <= high:
            raise WriteError(
                f"{where}: {value!r} gives {raw!r} on the wire, not a whole number in {low}..{high}"
            )
        return ua.Variant(whole, vtype)
    raise WriteError(f"{where}: writing {vtype.name} values is not supported")
