"""OPC UA status codes: their quality class and the reason code we put on a sample.

A StatusCode is 32 bits: the top 16 are the code, the low 16 are info flags (limit bits, overflow).
Its severity is bits 31-30: 00 Good, 01 Uncertain, 10 Bad, 11 reserved (treated as Bad)
(OPC UA Part 4 §7.34; hse-standards.md §8.1 [Q1][Q2]). A client checks the status first, uses an
Uncertain value with care and never uses a Bad one [Q1]; so a Bad sample carries no value.
"""

from __future__ import annotations

from asyncua.ua import status_codes

from protocols.types import Quality

# Codes the driver puts on samples itself (Part 4 §7.34 / Part 8 §7.3.2, hse-standards.md §8.1 [Q3][Q4]).
BAD_COMMUNICATION_ERROR = 0x80050000  # a low-level communication error
BAD_TIMEOUT = 0x800A0000  # the request timed out
BAD_NO_COMMUNICATION = 0x80310000  # no connection to the data source, no last known value
BAD_TYPE_MISMATCH = 0x80740000  # the value does not fit the point (array, structure, NaN)
BAD_NOT_CONNECTED = 0x808A0000
BAD_DEVICE_FAILURE = 0x808B0000
BAD_SENSOR_FAILURE = 0x808C0000
UNCERTAIN_LAST_USABLE_VALUE = 0x40900000

_SEVERITY_MASK = 0xC0000000
_CODE_MASK = 0xFFFF0000


def quality_of(code: int) -> Quality:
    """Good, Uncertain or Bad from the severity bits of ``code``."""
    severity = (code & _SEVERITY_MASK) >> 30
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def status_name(code: int) -> str:
    """The symbolic name of ``code`` without its info bits, e.g. ``BadSensorFailure``.

    An unknown code is named by its severity and hex value (``Bad_0x80FF0000``).
    """
    base = code & _CODE_MASK
    known = status_codes.code_to_name_doc.get(base)
    if known is not None:
        return known[0]
    return f"{quality_of(code).value.capitalize()}_0x{base:08X}"


def reason_for(code: int) -> str | None:
    """The sample reason for ``code``: ``opcua.<Name>`` unless the code is plain Good."""
    if quality_of(code) is Quality.GOOD and code & _CODE_MASK == 0:
        return None
    return f"opcua.{status_name(code)}"
