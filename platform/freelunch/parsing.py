"""Numbers from a request's text (query arguments, form fields, route pieces): the one parse every view uses.

``str.isdigit()`` is true for ``"²"``, which ``int()`` refuses, and ``Decimal()``
takes ``"1e400"``, ``"sNaN"`` and thirty digits, which overflow or raise further
on. Here only ASCII digits make a number, with as many digits as a database
column holds; anything else is "no number" (the caller's default) or a form error.
"""

from __future__ import annotations

import re
from decimal import Decimal

from wtforms import DecimalField

ID_MAX = 2**63 - 1  # the largest id a database column holds
# A sign is read, so that "-3" meets the field's range ("From 0 to 100") instead of a note on how to write numbers.
PLAIN_DECIMAL = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{0,6})?$")


def whole_number(text, default: int | None = None, low: int = 0, high: int = ID_MAX) -> int | None:
    """``text`` as an int when it is ASCII digits within ``low..high``, else ``default``."""
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 19:
        return default
    value = int(text)
    return value if low <= value <= high else default


def plain_decimal(text) -> Decimal | None:
    """``text`` as a Decimal when it is written as plain digits (a sign, at most 12 before the point, 6 after), else
    None; "-0" is 0."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not PLAIN_DECIMAL.match(text):
        return None
    value = Decimal(text)
    return value.copy_abs() if value == 0 else value


class PlainDecimalField(DecimalField):
    """A DecimalField that takes only plain digits (``12.50``): no exponents, NaN, infinities or 30-digit numbers,
    which WTForms' own field lets through to fail (a 500) when the value is rounded or stored."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = plain_decimal(valuelist[0])
        if self.data is None:
            raise ValueError("Give a plain number such as 0.25 (digits and one point).")

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]  # what was typed, even when it is refused
        return super()._value()
