"""MTurk's requester operations, with the rules the API reference documents.

Each operation takes the store (locked by the caller) and the request's members,
already checked against the service model, and returns the response members or
raises ``TurkError``. Where the reference names an error code it is used
(HitAlreadyExists, InvalidAssignmentState, InvalidMaximumAssignmentsIncrease);
elsewhere the answer is a RequestError with a plain message, as MTurk gives.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from . import qualifications
from .questions import QuestionError, parse_question
from .store import FREED, VISIBLE, Assignment, Bonus, Hit, HitType, QualificationType, Store, new_id

CENT = Decimal("0.01")
OVERRIDE_WINDOW = 30 * 24 * 3600
AUTO_APPROVAL_DEFAULT = 30 * 24 * 3600  # the legacy reference's default; the current one names none
# From 10 assignments a HIT MTurk's fee rises, and a HIT made with fewer can never reach 10.
FEE_STEP = 10
ANSWER_STATUSES = ("Reviewable", "Approved", "Rejected")


class TurkError(Exception):
    """An error answer: ``kind`` is the wire ``__type``; ``turk_code`` MTurk's TurkErrorCode, when it has one."""

    def __init__(self, kind: str, message: str, turk_code: str | None = None, status: int = 400):
        super().__init__(message)
        self.kind, self.message, self.turk_code, self.status = kind, message, turk_code, status


def request_error(message: str, turk_code: str | None = None) -> TurkError:
    return TurkError("RequestError", message, turk_code)


def invalid_parameter(name: str, value: object, why: str) -> TurkError:
    return TurkError("ParameterValidationError", f'The value "{value}" is not valid for the parameter {name}: {why}.')


OPERATIONS: dict[str, Callable[[Store, dict], dict]] = {}


def operation(function: Callable[[Store, dict], dict]) -> Callable[[Store, dict], dict]:
    """Register ``function`` under its wire name (``create_hit_type`` -> ``CreateHITType``), once."""
    name = _wire_name(function.__name__)
    if name in OPERATIONS:  # two merges adding the same operation: the second would silently win
        raise RuntimeError(f"{name} is defined twice in localturk.requester")
    OPERATIONS[name] = function
    return function


_ACRONYMS = {"hit": "HIT", "hits": "HITs"}


def _wire_name(name: str) -> str:
    return "".join(_ACRONYMS.get(word, word.capitalize()) for word in name.split("_"))


# ---------------------------------------------------------------- views


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def fee(amount: Decimal, rate: Decimal) -> Decimal:
    """MTurk's commission: a share of the amount, at least one cent."""
    return max((amount * rate).quantize(CENT, rounding=ROUND_HALF_UP), CENT)


def fee_rate(hit: Hit) -> Decimal:
    return Decimal("0.40") if hit.max_assignments >= FEE_STEP else Decimal("0.20")


def counts(store: Store, hit: Hit) -> dict[str, int]:
    """How the HIT's slots are taken: by workers at work, by submitted work, by reviewed work, or free."""
    held = [a for a in store.assignments_of(hit.id) if a.status not in FREED]
    pending = sum(a.status == "Accepted" for a in held)
    submitted = sum(a.status == "Submitted" for a in held)
    completed = sum(a.status in ("Approved", "Rejected") for a in held)
    return {"pending": pending, "submitted": submitted, "completed": completed, "free": hit.max_assignments - len(held)}


def expired(store: Store, hit: Hit) -> bool:
    return store.now() >= hit.expiration


def hit_status(store: Store, hit: Hit) -> str:
    if hit.disposed:
        return "Disposed"
    if hit.reviewing:
        return "Reviewing"
    slots = counts(store, hit)
    if slots["free"] > 0 and not expired(store, hit):
        return "Assignable"
    return "Unassignable" if slots["pending"] else "Reviewable"


def hit_view(store: Store, hit: Hit) -> dict:
    hit_type = store.hit_types[hit.type_id]
    slots = counts(store, hit)
    view = {
        "HITId": hit.id,
        "HITTypeId": hit.type_id,
        "HITGroupId": hit.type_id,
        "CreationTime": hit.created,
        "Title": hit_type.title,
        "Description": hit_type.description,
        "Question": hit.question,
        "Keywords": hit_type.keywords,
        "HITStatus": hit_status(store, hit),
        "MaxAssignments": hit.max_assignments,
        "Reward": hit_type.reward,
        "AutoApprovalDelayInSeconds": hit_type.auto_approval_delay,
        "Expiration": hit.expiration,
        "AssignmentDurationInSeconds": hit_type.assignment_duration,
        "QualificationRequirements": hit_type.qualification_requirements,
        "HITReviewStatus": hit.review_status,
        "NumberOfAssignmentsPending": slots["pending"],
        "NumberOfAssignmentsAvailable": 0 if expired(store, hit) or hit.disposed else slots["free"],
        "NumberOfAssignmentsCompleted": slots["completed"],
    }
    if hit.requester_annotation:
        view["RequesterAnnotation"] = hit.requester_annotation
    if hit.layout_id:
        view["HITLayoutId"] = hit.layout_id
    return view


def assignment_view(assignment: Assignment) -> dict:
    view = {
        "AssignmentId": assignment.id,
        "WorkerId": assignment.worker_id,
        "HITId": assignment.hit_id,
        "AssignmentStatus": assignment.status,
        "AcceptTime": assignment.accept_time,
        "Deadline": assignment.deadline,
        "SubmitTime": assignment.submit_time,
        "AutoApprovalTime": assignment.auto_approval_time,
        "ApprovalTime": assignment.approval_time,
        "RejectionTime": assignment.rejection_time,
        "Answer": assignment.answer,
        "RequesterFeedback": assignment.feedback or None,
    }
    return {k: v for k, v in view.items() if v is not None}


def committed(store: Store) -> Decimal:
    """What the account has paid or holds for: every slot not rejected nor lapsed, and every bonus, with fees."""
    total = Decimal(0)
    for hit in store.hits.values():
        reward = Decimal(store.hit_types[hit.type_id].reward)
        slots = counts(store, hit)
        live = slots["free"] if not (hit.disposed or expired(store, hit)) else 0
        approved = sum(a.status == "Approved" for a in store.assignments_of(hit.id))
        total += (reward + fee(reward, fee_rate(hit))) * (slots["pending"] + slots["submitted"] + approved + live)
    for bonus in store.bonuses:
        amount = Decimal(bonus.amount)
        total += amount + fee(amount, Decimal("0.20"))
    return total


def available_balance(store: Store) -> Decimal:
    return store.initial_balance - committed(store)


def _page(items: list, params: dict, seq: Callable) -> tuple[list, str | None]:
    """One page of ``items`` (ordered by ``seq``) after the position in NextToken; the token for the next."""
    after = 0
    if params.get("NextToken"):
        try:
            after = int(json.loads(base64.urlsafe_b64decode(params["NextToken"]))["after"])
        except (ValueError, KeyError, TypeError) as error:
            raise invalid_parameter("NextToken", params["NextToken"], "it is not a token this service gave") from error
    size = params.get("MaxResults", 10)
    rest = [item for item in items if seq(item) > after]
    page = rest[:size]
    token = None
    if len(rest) > size:
        token = base64.urlsafe_b64encode(json.dumps({"after": seq(page[-1])}).encode()).decode()
    return page, token


def _hit(store: Store, hit_id: str, deleted_ok: bool = True) -> Hit:
    hit = store.hits.get(hit_id)
    if hit is None or (hit.disposed and not deleted_ok):
        raise request_error(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HITDoesNotExist")
    return hit


def _assignment(store: Store, assignment_id: str) -> Assignment:
    assignment = store.assignments.get(assignment_id)
    if assignment is None:
        raise request_error(f"Assignment {assignment_id} does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist")
    if assignment.status not in VISIBLE:
        raise _wrong_state(ANSWER_STATUSES)
    return assignment


def _wrong_state(allowed: tuple[str, ...]) -> TurkError:
    return request_error(
        f"This operation can be called with a status of: {','.join(allowed)}",
        "AWS.MechanicalTurk.InvalidAssignmentState",
    )


def _paged(key: str, items: list, token: str | None) -> dict:
    answer = {"NumResults": len(items), key: items}
    if token:
        answer["NextToken"] = token
    return answer


# ---------------------------------------------------------------- account, HIT types and HITs


@operation
def get_account_balance(store: Store, params: dict) -> dict:
    return {"AvailableBalance": money(available_balance(store)), "OnHoldBalance": "0.00"}


def _checked_requirements(store: Store, requirements: list[dict]) -> list[dict]:
    for index, requirement in enumerate(requirements):
        problem = qualifications.requirement_problem(store, requirement)
        if problem:
            raise invalid_parameter(f"QualificationRequirements[{index}]", requirement["QualificationTypeId"], problem)
    return requirements


def _hit_type(store: Store, params: dict) -> HitType:
    """The HIT type with these properties: an existing one when every property matches, as MTurk does."""
    wanted = HitType(
        id="",
        title=params["Title"],
        description=params["Description"],
        reward=money(Decimal(params["Reward"])),
        assignment_duration=params["AssignmentDurationInSeconds"],
        auto_approval_delay=params.get("AutoApprovalDelayInSeconds", AUTO_APPROVAL_DEFAULT),
        keywords=params.get("Keywords", ""),
        qualification_requirements=_checked_requirements(store, params.get("QualificationRequirements", [])),
    )
    for existing in store.hit_types.values():
        if (
            existing.title,
            existing.description,
            existing.reward,
            existing.assignment_duration,
            existing.auto_approval_delay,
            existing.keywords,
            existing.qualification_requirements,
        ) == (
            wanted.title,
            wanted.description,
            wanted.reward,
            wanted.assignment_duration,
            wanted.auto_approval_delay,
            wanted.keywords,
            wanted.qualification_requirements,
        ):
            return existing
    wanted.id = new_id()
    store.hit_types[wanted.id] = wanted
    return wanted


@operation
def create_hit_type(store: Store, params: dict) -> dict:
    return {"HITTypeId": _hit_type(store, params).id}


def _create_hit(store: Store, hit_type: HitType, params: dict) -> dict:
    token = params.get("UniqueRequestToken")
    earlier = store.recent_token("CreateHIT", token)
    if earlier:
        raise request_error(
            f"There is already a HIT with this UniqueRequestToken. HITId: {earlier}",
            "AWS.MechanicalTurk.HitAlreadyExists",
        )
    if bool(params.get("Question")) == bool(params.get("HITLayoutId")):
        raise invalid_parameter("Question", params.get("Question", ""), "give either a Question or a HITLayoutId")
    external_url, frame_height = "", 0
    if params.get("Question"):
        try:
            external_url, frame_height = parse_question(params["Question"])
        except QuestionError as error:
            raise TurkError("ParameterValidationError", str(error)) from error
    now = store.now()
    hit = Hit(
        id=new_id(),
        type_id=hit_type.id,
        seq=store.next_seq(),
        created=now,
        expiration=now + params["LifetimeInSeconds"],
        max_assignments=params.get("MaxAssignments", 1),
        question=params.get("Question", ""),
        external_url=external_url,
        frame_height=frame_height,
        requester_annotation=params.get("RequesterAnnotation", ""),
        layout_id=params.get("HITLayoutId", ""),
    )
    reward = Decimal(hit_type.reward)
    cost = (reward + fee(reward, fee_rate(hit))) * hit.max_assignments
    if cost > available_balance(store):
        raise request_error(
            "Your account balance is insufficient to create this HIT.", "AWS.MechanicalTurk.InsufficientFunds"
        )
    store.hits[hit.id] = hit
    store.remember_token("CreateHIT", token, hit.id)
    store.event("HITCreated", hit)
    return {"HIT": hit_view(store, hit)}


@operation
def create_hit(store: Store, params: dict) -> dict:
    return _create_hit(store, _hit_type(store, params), params)


@operation
def create_hit_with_hit_type(store: Store, params: dict) -> dict:
    hit_type = store.hit_types.get(params["HITTypeId"])
    if hit_type is None:
        raise invalid_parameter("HITTypeId", params["HITTypeId"], "no HIT type has this id")
    return _create_hit(store, hit_type, params)


@operation
def get_hit(store: Store, params: dict) -> dict:
    return {"HIT": hit_view(store, _hit(store, params["HITId"]))}


@operation
def list_hits(store: Store, params: dict) -> dict:
    live = sorted((h for h in store.hits.values() if not h.disposed), key=lambda h: h.seq)
    page, token = _page(live, params, lambda h: h.seq)
    return _paged("HITs", [hit_view(store, h) for h in page], token)


@operation
def list_reviewable_hits(store: Store, params: dict) -> dict:
    status = params.get("Status", "Reviewable")
    found = sorted(
        (
            h
            for h in store.hits.values()
            if hit_status(store, h) == status and params.get("HITTypeId") in (None, h.type_id)
        ),
        key=lambda h: h.seq,
    )
    page, token = _page(found, params, lambda h: h.seq)
    return _paged("HITs", [hit_view(store, h) for h in page], token)


@operation
def create_additional_assignments_for_hit(store: Store, params: dict) -> dict:
    hit = _hit(store, params["HITId"], deleted_ok=False)
    token = params.get("UniqueRequestToken")
    if store.recent_token("CreateAdditionalAssignmentsForHIT", token):
        raise request_error(f'The idempotency token "{token}" has already been processed.')
    extra = params["NumberOfAdditionalAssignments"]
    if hit.max_assignments < FEE_STEP <= hit.max_assignments + extra:
        raise request_error(
            f"HIT {hit.id} was created with fewer than {FEE_STEP} assignments and cannot be extended to "
            f"{FEE_STEP} or more.",
            "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
        )
    reward = Decimal(store.hit_types[hit.type_id].reward)
    if (reward + fee(reward, fee_rate(hit))) * extra > available_balance(store):
        raise request_error(
            "Your account balance is insufficient to add these assignments.", "AWS.MechanicalTurk.InsufficientFunds"
        )
    hit.max_assignments += extra
    store.remember_token("CreateAdditionalAssignmentsForHIT", token, hit.id)
    store.event("HITExtended", hit)
    return {}


@operation
def update_expiration_for_hit(store: Store, params: dict) -> dict:
    hit = _hit(store, params["HITId"], deleted_ok=False)
    # A time in the past (0, say) expires the HIT now.
    hit.expiration = max(float(params["ExpireAt"]), store.now())
    hit.expiry_announced = False  # catch_up announces the expiry when it comes, now or later
    return {}


@operation
def update_hit_review_status(store: Store, params: dict) -> dict:
    hit = _hit(store, params["HITId"], deleted_ok=False)
    wanted = "Reviewing" if params.get("Revert") else "Reviewable"
    if hit_status(store, hit) != wanted:
        raise request_error(
            f"This HIT is currently in the state '{hit_status(store, hit)}'. "
            f"This operation can be called with a status of: {wanted}",
            "AWS.MechanicalTurk.InvalidHITState",
        )
    hit.reviewing = not params.get("Revert")
    return {}


@operation
def delete_hit(store: Store, params: dict) -> dict:
    """Only a Reviewable HIT (expired or fully submitted, none at work) whose submissions are all decided."""
    hit = _hit(store, params["HITId"])
    state = hit_status(store, hit)
    if state != "Reviewable" or counts(store, hit)["submitted"]:
        detail = " with assignments still to approve or reject" if state == "Reviewable" else ""
        raise request_error(
            f"This HIT is currently in the state '{state}'{detail}. This operation can be called "
            "with a status of: Reviewable, once every submitted assignment is approved or rejected",
            "AWS.MechanicalTurk.InvalidHITState",
        )
    hit.disposed = True
    store.event("HITDisposed", hit)
    return {}


# ---------------------------------------------------------------- assignments and bonuses


@operation
def list_assignments_for_hit(store: Store, params: dict) -> dict:
    hit = _hit(store, params["HITId"])
    statuses = params.get("AssignmentStatuses") or list(VISIBLE)
    found = [a for a in store.assignments_of(hit.id) if a.status in statuses]
    page, token = _page(found, params, lambda a: a.seq)
    return _paged("Assignments", [assignment_view(a) for a in page], token)


@operation
def get_assignment(store: Store, params: dict) -> dict:
    assignment = _assignment(store, params["AssignmentId"])
    return {"Assignment": assignment_view(assignment), "HIT": hit_view(store, store.hits[assignment.hit_id])}


@operation
def approve_assignment(store: Store, params: dict) -> dict:
    assignment = _assignment(store, params["AssignmentId"])
    hit = store.hits[assignment.hit_id]
    if assignment.status == "Rejected" and params.get("OverrideRejection"):
        if hit.disposed or store.now() - assignment.submit_time > OVERRIDE_WINDOW:
            raise request_error(
                "A rejection can be overridden only within 30 days of submission, and not once its HIT is deleted.",
                "AWS.MechanicalTurk.InvalidAssignmentState",
            )
    elif assignment.status != "Submitted":
        raise _wrong_state(("Submitted",))
    assignment.status = "Approved"
    assignment.approval_time = store.now()
    assignment.rejection_time = None
    assignment.feedback = params.get("RequesterFeedback", "")
    store.worker(assignment.worker_id).approved_hits += 1
    store.event("AssignmentApproved", hit, assignment)
    return {}


@operation
def reject_assignment(store: Store, params: dict) -> dict:
    assignment = _assignment(store, params["AssignmentId"])
    if not params["RequesterFeedback"].strip():
        raise invalid_parameter("RequesterFeedback", "", "a rejection must say why; the worker is shown it")
    if assignment.status != "Submitted":
        raise _wrong_state(("Submitted",))
    assignment.status = "Rejected"
    assignment.rejection_time = store.now()
    assignment.feedback = params["RequesterFeedback"]
    store.event("AssignmentRejected", store.hits[assignment.hit_id], assignment)
    return {}


@operation
def send_bonus(store: Store, params: dict) -> dict:
    token = params.get("UniqueRequestToken")
    if store.recent_token("SendBonus", token):
        raise request_error(f'The idempotency token "{token}" has already been processed.')
    assignment = _assignment(store, params["AssignmentId"])
    if assignment.worker_id != params["WorkerId"]:
        raise invalid_parameter("WorkerId", params["WorkerId"], "it is not the worker of this assignment")
    amount = Decimal(params["BonusAmount"])
    if amount + fee(amount, Decimal("0.20")) > available_balance(store):
        raise request_error(
            "Your account balance is insufficient to pay this bonus.", "AWS.MechanicalTurk.InsufficientFunds"
        )
    bonus = Bonus(
        seq=store.next_seq(),
        worker_id=assignment.worker_id,
        assignment_id=assignment.id,
        hit_id=assignment.hit_id,
        amount=money(amount),
        reason=params["Reason"],
        grant_time=store.now(),
    )
    store.bonuses.append(bonus)
    store.remember_token("SendBonus", token, str(bonus.seq))
    return {}


@operation
def list_bonus_payments(store: Store, params: dict) -> dict:
    if ("HITId" in params) == ("AssignmentId" in params):
        raise invalid_parameter("HITId", params.get("HITId", ""), "give either a HITId or an AssignmentId")
    if "HITId" in params:
        _hit(store, params["HITId"])
    found = [
        b
        for b in store.bonuses
        if params.get("HITId") in (None, b.hit_id) and params.get("AssignmentId") in (None, b.assignment_id)
    ]
    page, token = _page(found, params, lambda b: b.seq)
    payments = [
        {
            "WorkerId": b.worker_id,
            "BonusAmount": b.amount,
            "AssignmentId": b.assignment_id,
            "Reason": b.reason,
            "GrantTime": b.grant_time,
        }
        for b in page
    ]
    return _paged("BonusPayments", payments, token)


# ---------------------------------------------------------------- qualifications, blocks, messages, notifications


def _qualification_type_view(q: QualificationType) -> dict:
    view = {
        "QualificationTypeId": q.id,
        "CreationTime": q.created,
        "Name": q.name,
        "Description": q.description,
        "Keywords": q.keywords,
        "QualificationTypeStatus": q.status,
        "IsRequestable": bool(q.test or q.auto_granted),
        "AutoGranted": q.auto_granted,
    }
    if q.auto_granted:
        view["AutoGrantedValue"] = q.auto_granted_value
    if q.test:
        view.update(Test=q.test, TestDurationInSeconds=q.test_duration)
    if q.retry_delay is not None:
        view["RetryDelayInSeconds"] = q.retry_delay
    return {k: v for k, v in view.items() if v is not None}


@operation
def create_qualification_type(store: Store, params: dict) -> dict:
    if any(q.name == params["Name"] for q in store.qualification_types.values()):
        raise request_error(
            "You have already created a QualificationType with this name. A QualificationType's name "
            "must be unique among all of the QualificationTypes created by the same user."
        )
    q = QualificationType(
        id=new_id(),
        name=params["Name"],
        description=params["Description"],
        status=params["QualificationTypeStatus"],
        created=store.now(),
        keywords=params.get("Keywords", ""),
        auto_granted=params.get("AutoGranted", False),
        auto_granted_value=params.get("AutoGrantedValue", 1),
        test=params.get("Test", ""),
        answer_key=params.get("AnswerKey", ""),
        retry_delay=params.get("RetryDelayInSeconds"),
        test_duration=params.get("TestDurationInSeconds"),
    )
    store.qualification_types[q.id] = q
    return {"QualificationType": _qualification_type_view(q)}


def _own_qualification_type(store: Store, type_id: str) -> QualificationType:
    q = store.qualification_types.get(type_id)
    if q is None:
        raise request_error(
            f"QualificationType {type_id} does not exist or is not yours.",
            "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        )
    return q


@operation
def get_qualification_type(store: Store, params: dict) -> dict:
    return {
        "QualificationType": _qualification_type_view(_own_qualification_type(store, params["QualificationTypeId"]))
    }


@operation
def list_qualification_types(store: Store, params: dict) -> dict:
    """Our own types (MustBeOwnedByCaller) or every one, matching Query in name, description or keywords."""
    query = (params.get("Query") or "").lower()
    found = [
        q
        for q in sorted(store.qualification_types.values(), key=lambda q: (q.created, q.id))
        if query in f"{q.name} {q.description} {q.keywords}".lower()
        and (not params["MustBeRequestable"] or q.test or q.auto_granted)
    ]
    order = {q.id: n for n, q in enumerate(found, 1)}
    page, token = _page(found, params, lambda q: order[q.id])
    return _paged("QualificationTypes", [_qualification_type_view(q) for q in page], token)


@operation
def associate_qualification_with_worker(store: Store, params: dict) -> dict:
    q = _own_qualification_type(store, params["QualificationTypeId"])
    key = qualifications.qualification_key(q.id, params["WorkerId"])
    store.worker_qualifications[key] = params.get("IntegerValue", 1)
    return {}


@operation
def disassociate_qualification_from_worker(store: Store, params: dict) -> dict:
    q = _own_qualification_type(store, params["QualificationTypeId"])
    store.worker_qualifications.pop(qualifications.qualification_key(q.id, params["WorkerId"]), None)
    return {}


@operation
def create_worker_block(store: Store, params: dict) -> dict:
    store.blocks[params["WorkerId"]] = params["Reason"]
    return {}


@operation
def delete_worker_block(store: Store, params: dict) -> dict:
    store.blocks.pop(params["WorkerId"], None)
    return {}


@operation
def list_worker_blocks(store: Store, params: dict) -> dict:
    blocks = [{"WorkerId": w, "Reason": r, "seq": i} for i, (w, r) in enumerate(sorted(store.blocks.items()), 1)]
    page, token = _page(blocks, params, lambda b: b["seq"])
    return _paged("WorkerBlocks", [{"WorkerId": b["WorkerId"], "Reason": b["Reason"]} for b in page], token)


@operation
def notify_workers(store: Store, params: dict) -> dict:
    """Delivered to workers who have worked for this requester; the others come back as failures."""
    worked = {a.worker_id for a in store.assignments.values()} | {
        h["worker_id"] for a in store.assignments.values() for h in a.history
    }
    failures = []
    for worker_id in params["WorkerIds"]:
        if worker_id in worked:
            store.messages.append(
                {
                    "WorkerId": worker_id,
                    "Subject": params["Subject"],
                    "MessageText": params["MessageText"],
                    "Time": store.now(),
                }
            )
        else:
            failures.append(
                {
                    "NotifyWorkersFailureCode": "HardFailure",
                    "WorkerId": worker_id,
                    "NotifyWorkersFailureMessage": f"Worker {worker_id} has not worked for you.",
                }
            )
    return {"NotifyWorkersFailureStatuses": failures}


def _notification(spec: dict) -> dict:
    if spec["Version"] != "2006-05-05":
        raise invalid_parameter("Notification.Version", spec["Version"], "the only version is 2006-05-05")
    return spec


@operation
def update_notification_settings(store: Store, params: dict) -> dict:
    hit_type = store.hit_types.get(params["HITTypeId"])
    if hit_type is None:
        raise invalid_parameter("HITTypeId", params["HITTypeId"], "no HIT type has this id")
    spec = params.get("Notification")
    if spec is None and hit_type.notification is None:
        raise invalid_parameter("Notification", "null", "this HIT type has no notification to turn on or off")
    if spec is not None:
        hit_type.notification = _notification(spec)
        hit_type.notification_active = params.get("Active", True)
    elif "Active" in params:
        hit_type.notification_active = params["Active"]
    return {}


@operation
def send_test_event_notification(store: Store, params: dict) -> dict:
    store.send_event(
        _notification(params["Notification"]),
        {"EventType": params["TestEventType"], "EventTimestamp": store.timestamp()},
    )
    return {}
