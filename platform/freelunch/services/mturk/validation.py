"""Check an MTurk request against botocore's service model before it is sent.

botocore itself only checks types, required members and minima, and its
Stubber checks no more; MTurk enforces the rest (patterns such as a reward's
``^[0-9]+(\\.)?[0-9]{0,2}$``, enums, maxima) by refusing the call, sometimes
after money has been committed elsewhere in a flow. So every request is walked
once here, generically from the model's shapes, and a few limits that MTurk's
API reference documents but the model leaves out are added by member name.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, Shape

from .errors import InvalidRequest

# Documented in MTurk's API reference, absent from the JSON model.
DOCUMENTED_LIMITS: dict[str, dict] = {
    "Title": {"max": 128},
    "Description": {"max": 2000},
    "Keywords": {"max": 1000},
    "RequesterAnnotation": {"max": 255},
    "RequesterFeedback": {"max": 1024},
    "WorkerIds": {"max": 100},  # NotifyWorkers: at most 100 workers a call
    "MaxAssignments": {"min": 1, "max": 1_000_000},
    "NumberOfAdditionalAssignments": {"min": 1, "max": 1_000_000},
    "LifetimeInSeconds": {"min": 30, "max": 365 * 24 * 3600},
    "AssignmentDurationInSeconds": {"min": 30, "max": 365 * 24 * 3600},
    "AutoApprovalDelayInSeconds": {"min": 0, "max": 30 * 24 * 3600},
    "Subject": {"max": 200},  # NotifyWorkers
    "MessageText": {"max": 4096},
}


def money(amount: Decimal | str | int, what: str = "The amount") -> str:
    """A dollar amount as MTurk's CurrencyAmount text; refuses fractions of a cent instead of rounding them away."""
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        raise InvalidRequest(f"{what} {amount!r} is not a number of dollars.") from None
    if not value.is_finite() or value < 0:
        raise InvalidRequest(f"{what} must be zero or more dollars, not {amount}.")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidRequest(f"{what} {amount} has fractions of a cent; MTurk pays whole cents (e.g. 1.01).")
    return f"{value:.2f}"


@lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("mturk")


def operation_model(operation: str) -> OperationModel:
    """The model of an operation named as boto3 names it (``create_hit_type``) or as MTurk does."""
    model = service_model()
    names = {xform_name(n): n for n in model.operation_names}
    return model.operation_model(names.get(operation, operation))


def validate(operation: str, params: dict) -> None:
    """Raise InvalidRequest for the first rule ``params`` break; return quietly when MTurk's model allows them."""
    shape = operation_model(operation).input_shape
    if shape is not None:
        _check(shape, params, shape.name.removesuffix("Request"), None)


def _limits(shape: Shape, member: str | None) -> dict:
    return {**shape.metadata, **DOCUMENTED_LIMITS.get(member or "", {})}


def _check(shape: Shape, value, where: str, member: str | None) -> None:
    limits = _limits(shape, member)
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise InvalidRequest(f"{where} must be a structure.")
        for name in shape.required_members:
            if value.get(name) is None:
                raise InvalidRequest(f"{where}.{name} is required.")
        for name, item in value.items():
            if name not in shape.members:
                raise InvalidRequest(f"{where} has no field {name}.")
            if item is not None:
                _check(shape.members[name], item, f"{where}.{name}", name)
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            raise InvalidRequest(f"{where} must be a list.")
        _range(len(value), limits, where, "item")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}[{index}]", None)
    elif kind == "map":
        if not isinstance(value, dict):
            raise InvalidRequest(f"{where} must be a mapping.")
        for key, item in value.items():
            _check(shape.key, key, f"{where} key", None)
            _check(shape.value, item, f"{where}[{key}]", None)
    elif kind == "string":
        if not isinstance(value, str):
            raise InvalidRequest(f"{where} must be text, not {type(value).__name__}.")
        _range(len(value), limits, where, "character")
        if "enum" in limits and value not in limits["enum"]:
            raise InvalidRequest(f"{where} must be one of {', '.join(limits['enum'])}, not {value!r}.")
        if "pattern" in limits and not re.search(limits["pattern"], value):
            raise InvalidRequest(f"{where} {value!r} does not have the form MTurk accepts ({limits['pattern']}).")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{where} must be a whole number.")
        _range(value, limits, where, None)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidRequest(f"{where} must be true or false.")
    elif kind == "timestamp":
        if not isinstance(value, (dt.datetime, int, float)) or isinstance(value, bool):
            raise InvalidRequest(f"{where} must be a time.")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise InvalidRequest(f"{where} must be a number.")


def _range(size: int, limits: dict, where: str, unit: str | None) -> None:
    def amount(n: int) -> str:
        return f"{n} {unit}{'s' if n != 1 else ''}" if unit else str(n)

    if "min" in limits and size < limits["min"]:
        raise InvalidRequest(
            f"{where} needs at least {amount(limits['min'])}" + (f", not {size}." if not unit else ".")
        )
    if "max" in limits and size > limits["max"]:
        raise InvalidRequest(
            f"{where} allows at most {amount(limits['max'])}" + (f", not {size}." if not unit else f"; it has {size}.")
        )
