"""MTurk requests checked against botocore's service model, plus the limits MTurk's API reference adds.

botocore checks only required members, types and minimum lengths before it
sends, and Stubber only shapes; neither checks patterns, enums or maxima, which
MTurk enforces (a reward of ``1.005`` is refused). The model itself leaves out
limits the API reference documents (a title of at most 128 characters, at most
100 workers per NotifyWorkers, ...): those are ``DOCUMENTED_LIMITS``.

One checker for both ends: the gateway calls ``check`` before it sends, the
local stand-in (``freelunch.localturk``) calls ``problems`` on every request it
receives and answers like MTurk does (``ValidationException`` for the model,
``ParameterValidationError`` for the documented limits).
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Limit:
    """A documented bound on a member's ``length`` (strings), ``size`` (lists) or ``value`` (numbers, amounts)."""

    of: str
    low: int | Decimal | None = None
    high: int | Decimal | None = None


def _length(low: int | None, high: int | None) -> Limit:
    return Limit("length", low, high)


def _value(low: int | Decimal | None, high: int | Decimal | None) -> Limit:
    return Limit("value", low, high)


_HIT_TYPE = {
    "Title": _length(1, 128),
    "Description": _length(1, 2000),
    "Keywords": _length(None, 1000),
    "Reward": _value(Decimal("0.01"), None),
    "AssignmentDurationInSeconds": _value(30, YEAR),
    "AutoApprovalDelayInSeconds": _value(0, 30 * 24 * 3600),
}
_HIT = {
    "MaxAssignments": _value(1, 1_000_000_000),
    "LifetimeInSeconds": _value(30, YEAR),
    "RequesterAnnotation": _length(None, 255),
    "Question": _length(None, 65_535),  # "must not be larger than 64 kilobytes"
}
# From the operations' pages of the API reference (2017-01-17); the model has none of these.
DOCUMENTED_LIMITS: dict[str, dict[str, Limit]] = {
    "CreateHITType": _HIT_TYPE,
    "CreateHIT": {**_HIT_TYPE, **_HIT},
    "CreateHITWithHITType": _HIT,
    "CreateAdditionalAssignmentsForHIT": {"NumberOfAdditionalAssignments": _value(1, 1_000_000_000)},
    "ApproveAssignment": {"RequesterFeedback": _length(None, 1024)},
    "RejectAssignment": {"RequesterFeedback": _length(1, 1024)},
    "SendBonus": {"BonusAmount": _value(Decimal("0.01"), None), "Reason": _length(1, 4096)},
    "NotifyWorkers": {"Subject": _length(1, 200), "MessageText": _length(1, 4096), "WorkerIds": Limit("size", 1, 100)},
    "CreateQualificationType": {"Name": _length(1, 128), "Description": _length(1, 2000)},
    "CreateWorkerBlock": {"Reason": _length(1, 4096)},
}


@dataclass(frozen=True)
class Problem:
    """One broken rule. ``path`` names the member (``QualificationRequirements[0].Comparator``)."""

    path: str
    value: object
    constraint: str
    documented: bool = False

    @property
    def wire_path(self) -> str:
        """The member path as AWS's front end writes it: lowerCamel names, 1-based ``.N.member`` for lists."""
        parts = re.findall(r"([A-Za-z]+)|\[(\d+)\]", self.path)
        out = []
        for name, index in parts:
            out.append(f"{int(index) + 1}.member" if index else name[:1].lower() + name[1:])
        return ".".join(out)

    def sentence(self) -> str:
        value = str(self.value) if len(str(self.value)) <= 80 else f"{str(self.value)[:77]}..."
        if self.documented:
            return f'The value "{value}" is not valid for the parameter {self.path}: {self.constraint}.'
        shown = "null" if self.value is None else f"'{value}'"
        return f"Value {shown} at '{self.wire_path}' failed to satisfy constraint: {self.constraint}"


class InvalidRequest(ValueError):
    """A request MTurk would refuse; the message is one plain sentence per problem."""

    def __init__(self, operation: str, problems: list[Problem]):
        self.operation = operation
        self.problems = problems
        super().__init__(f"{operation}: " + " ".join(p.sentence() for p in problems))


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("mturk")


def operation_model(operation: str) -> OperationModel:
    """The model of an operation by its wire name (``CreateHIT``); KeyError for an unknown one."""
    if operation not in service_model().operation_names:
        raise KeyError(operation)
    return service_model().operation_model(operation)


def model_problems(operation: str, params: dict) -> list[Problem]:
    """Everything in ``params`` that breaks the operation's input shape in botocore's model."""
    problems: list[Problem] = []
    _check_structure(operation_model(operation).input_shape, params, "", problems)
    return problems


def documented_problems(operation: str, params: dict) -> list[Problem]:
    """The documented limits the model leaves out (checked only on members of the right type)."""
    problems = []
    for member, limit in DOCUMENTED_LIMITS.get(operation, {}).items():
        if member in params and params[member] is not None:
            constraint = _limit_problem(params[member], limit)
            if constraint:
                problems.append(Problem(member, params[member], constraint, documented=True))
    return problems


def problems(operation: str, params: dict) -> list[Problem]:
    """Model problems first; documented limits only once the request fits the model."""
    return model_problems(operation, params) or documented_problems(operation, params)


def check(operation: str, params: dict) -> None:
    """Raise ``InvalidRequest`` unless MTurk would accept ``params`` for ``operation``."""
    found = problems(operation, params)
    if found:
        raise InvalidRequest(operation, found)


def coral_message(found: list[Problem]) -> str:
    """A ValidationException message as AWS's front end writes it."""
    count = len(found)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(p.sentence() for p in found)


def _limit_problem(value: object, limit: Limit) -> str | None:
    if limit.of == "value":
        try:
            measure = Decimal(str(value))
        except InvalidOperation:
            return None  # not a number: the model check reports its type
        low, high = f"be at least {limit.low}", f"be at most {limit.high}"
    else:
        measure = len(value)
        low, high = f"have a {limit.of} of at least {limit.low}", f"have a {limit.of} of at most {limit.high}"
    if limit.low is not None and measure < limit.low:
        return f"it must {low}"
    if limit.high is not None and measure > limit.high:
        return f"it must {high}"
    return None


def _check_structure(shape: Shape, value: object, path: str, problems: list[Problem]) -> None:
    if not isinstance(value, dict):
        problems.append(Problem(path or shape.name, value, "Member must be a structure"))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(Problem(_join(path, name), None, "Member must not be null"))
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            problems.append(Problem(_join(path, name), member_value, "Member is not in the model"))
        elif member_value is not None:
            _check(member, member_value, _join(path, name), problems)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: object, path: str, problems: list[Problem]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(Problem(path, value, "Member must be a list"))
            return
        _check_size(shape, len(value), value, path, "length", problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(Problem(path, value, "Member must be a string"))
            return
        _check_size(shape, len(value), value, path, "length", problems)
        if shape.enum and value not in shape.enum:
            problems.append(Problem(path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(Problem(path, value, f"Member must satisfy regular expression pattern: {pattern}"))
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(Problem(path, value, f"Member must be an {kind}" if kind == "integer" else "Member must be a long"))
            return
        low, high = INT32 if kind == "integer" else INT64
        if not low <= value <= high:
            problems.append(Problem(path, value, f"Member must fit in a 32-bit {kind}" if kind == "integer" else "Member must fit in a 64-bit long"))
            return
        _check_size(shape, value, value, path, "value", problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(Problem(path, value, "Member must be a boolean"))
    elif kind == "timestamp":
        # On the wire a number of epoch seconds; from Python callers botocore also takes datetimes.
        if isinstance(value, bool) or not isinstance(value, (int, float, datetime.datetime)):
            problems.append(Problem(path, value, "Member must be a timestamp"))


def _check_size(shape: Shape, size: int, value: object, path: str, what: str, problems: list[Problem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(Problem(path, value, f"Member must have {what} greater than or equal to {low}"))
    if high is not None and size > high:
        problems.append(Problem(path, value, f"Member must have {what} less than or equal to {high}"))
