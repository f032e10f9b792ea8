"""Qualification requirements: checking them when a HIT type is made, and applying them to a worker.

The system qualifications take their values from the local worker's profile
(``store.Worker``: approval rate, approved HITs, locale), so a default worker
passes the usual "95 % approved, 100 HITs" requirements; custom ones come from
AssociateQualificationWithWorker.
"""

from __future__ import annotations

from .store import Store

PERCENT_APPROVED = "000000000000000000L0"
NUMBER_APPROVED = "00000000000000000040"
LOCALE = "00000000000000000071"
ADULT = "00000000000000000060"
MASTERS = ("2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH")  # sandbox, production
SYSTEM = (PERCENT_APPROVED, NUMBER_APPROVED, LOCALE, ADULT, *MASTERS)

NO_VALUE = ("Exists", "DoesNotExist")
ONE_VALUE = ("LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo", "EqualTo", "NotEqualTo")
LOCALE_COMPARATORS = ("EqualTo", "NotEqualTo", "In", "NotIn")
# How much a failed requirement hides, from least to most.
ACTIONS = {
    "Accept": ("accept",),
    "PreviewAndAccept": ("preview", "accept"),
    "DiscoverPreviewAndAccept": ("discover", "preview", "accept"),
}


def requirement_problem(store: Store, requirement: dict) -> str | None:
    """Why MTurk would refuse this requirement, or None."""
    type_id, comparator = requirement["QualificationTypeId"], requirement["Comparator"]
    integers, locales = requirement.get("IntegerValues") or [], requirement.get("LocaleValues") or []
    if type_id not in SYSTEM and type_id not in store.qualification_types:
        return f"The QualificationType {type_id} does not exist."
    if comparator in NO_VALUE:
        if integers or locales:
            return f"The comparator {comparator} takes no IntegerValues or LocaleValues."
        return None
    if type_id == LOCALE:
        if integers or not locales or comparator not in LOCALE_COMPARATORS:
            return "A locale requirement needs LocaleValues and one of EqualTo, NotEqualTo, In, NotIn."
        values = locales
    else:
        if locales or not integers:
            return f"The comparator {comparator} needs IntegerValues."
        values = integers
    if comparator in ONE_VALUE and len(values) != 1:
        return f"The comparator {comparator} takes exactly one value."
    return None


def worker_value(store: Store, worker_id: str, type_id: str) -> int | dict | None:
    """The worker's value for a qualification type, or None when they do not have it."""
    worker = store.worker(worker_id)
    if type_id == PERCENT_APPROVED:
        return worker.approval_rate
    if type_id == NUMBER_APPROVED:
        return worker.approved_hits
    if type_id == LOCALE:
        return worker.locale
    if type_id == ADULT:
        return 1
    return store.worker_qualifications.get(qualification_key(type_id, worker_id))


def qualification_key(type_id: str, worker_id: str) -> str:
    return f"{type_id}/{worker_id}"


def _locale_matches(locale: dict, wanted: dict) -> bool:
    return locale.get("Country") == wanted["Country"] and (
        "Subdivision" not in wanted or locale.get("Subdivision") == wanted["Subdivision"]
    )


def meets(store: Store, worker_id: str, requirement: dict) -> bool:
    comparator = requirement["Comparator"]
    value = worker_value(store, worker_id, requirement["QualificationTypeId"])
    if comparator == "DoesNotExist":
        return value is None
    if value is None:
        return False
    if comparator == "Exists":
        return True
    if isinstance(value, dict):
        matched = any(_locale_matches(value, wanted) for wanted in requirement["LocaleValues"])
        return matched if comparator in ("EqualTo", "In") else not matched
    values = requirement["IntegerValues"]
    return {
        "LessThan": lambda: value < values[0],
        "LessThanOrEqualTo": lambda: value <= values[0],
        "GreaterThan": lambda: value > values[0],
        "GreaterThanOrEqualTo": lambda: value >= values[0],
        "EqualTo": lambda: value == values[0],
        "NotEqualTo": lambda: value != values[0],
        "In": lambda: value in values,
        "NotIn": lambda: value not in values,
    }[comparator]()


def guarded_actions(requirement: dict) -> tuple[str, ...]:
    if "ActionsGuarded" in requirement:
        return ACTIONS[requirement["ActionsGuarded"]]
    return ACTIONS["PreviewAndAccept" if requirement.get("RequiredToPreview") else "Accept"]


def refused(store: Store, worker_id: str, requirements: list[dict], action: str) -> str | None:
    """Why the worker may not ``discover``, ``preview`` or ``accept`` a HIT with these requirements, or None."""
    if worker_id in store.blocks:
        return "You are blocked from working on this requester's HITs."
    for requirement in requirements:
        if action in guarded_actions(requirement) and not meets(store, worker_id, requirement):
            return (
                f"You do not meet the qualification requirement {requirement['QualificationTypeId']} "
                f"({requirement['Comparator']})."
            )
    return None
