"""The local MTurk over the wire: an unmodified boto3 client against a running stand-in (fixture ``local_mturk``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from factories import HIT_TYPE

from freelunch.localturk import NotInDevelopment, ensure_development
from freelunch.localturk.questions import parse_answer
from freelunch.localturk.store import Store

QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>http://127.0.0.1:5000/annotate?hitDatasetName=1&amp;imageNetHitId=k1'
    "</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"
)
DAY = 24 * 3600


@pytest.fixture
def mturk(local_mturk):
    return local_mturk.client()


def make_hit(mturk, max_assignments=3, **extra):
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    params = {
        "HITTypeId": type_id,
        "LifetimeInSeconds": 3600,
        "MaxAssignments": max_assignments,
        "Question": QUESTION,
        **extra,
    }
    return mturk.create_hit_with_hit_type(**params)["HIT"]


def error_of(call, **params) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return {**caught.value.response["Error"], "TurkErrorCode": caught.value.response.get("TurkErrorCode")}


def raw_call(endpoint: str, target: str, body: bytes, signed: bool = True) -> tuple[int, dict]:
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    if signed:
        headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/mturk-requester/aws4_request"
    request = urllib.request.Request(endpoint + "/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------- protocol and validation


def test_the_docs_list_every_operation_the_stand_in_serves():
    from freelunch.config import ROOT
    from freelunch.localturk.requester import OPERATIONS

    docs = " ".join((ROOT / "docs" / "local-mturk.md").read_text().split())
    assert all(f" {name}," in docs or f" {name}." in docs for name in OPERATIONS)


def test_the_wire_protocol_refuses_unsigned_unknown_and_malformed_requests(local_mturk):
    target = "MTurkRequesterServiceV20170117.GetAccountBalance"
    assert raw_call(local_mturk.endpoint_url, target, b"{}") == (
        200,
        {"AvailableBalance": "10000.00", "OnHoldBalance": "0.00"},
    )
    assert (
        raw_call(local_mturk.endpoint_url, target, b"{}", signed=False)[1]["__type"]
        == "MissingAuthenticationTokenException"
    )
    assert (
        raw_call(local_mturk.endpoint_url, "MTurkRequesterServiceV20170117.MintMoney", b"{}")[1]["__type"]
        == "UnknownOperationException"
    )
    unimplemented = raw_call(local_mturk.endpoint_url, "MTurkRequesterServiceV20170117.GetFileUploadURL", b"{}")[1]
    assert unimplemented["__type"] == "UnknownOperationException" and "does not implement" in unimplemented["Message"]
    assert raw_call(local_mturk.endpoint_url, target, b"{not json")[1]["__type"] == "SerializationException"
    status, body = raw_call(
        local_mturk.endpoint_url, "MTurkRequesterServiceV20170117.RejectAssignment", b'{"AssignmentId": "3ABC"}'
    )
    assert (
        status == 400 and body["__type"] == "ValidationException" and "RequesterFeedback is required" in body["Message"]
    )
    status, body = raw_call(local_mturk.endpoint_url, "MTurkRequesterServiceV20170117.ListHITs", b'{"Colour": "red"}')
    assert status == 400 and body["__type"] == "ValidationException" and "Colour" in body["Message"]


def test_a_reward_of_1_005_is_refused_by_the_model_and_nothing_is_created(local_mturk, mturk):
    error = error_of(mturk.create_hit, LifetimeInSeconds=3600, Question=QUESTION, **{**HIT_TYPE, "Reward": "1.005"})
    assert error["Code"] == "ValidationException"
    assert "Reward '1.005'" in error["Message"] and "^[0-9]+(\\.)?[0-9]{0,2}$" in error["Message"]
    assert (
        error_of(mturk.send_bonus, WorkerId="A1", BonusAmount="0.255", AssignmentId="3X", Reason="r")["Code"]
        == "ValidationException"
    )
    assert local_mturk.store.hits == {} and local_mturk.store.hit_types == {}


@pytest.mark.parametrize("max_assignments", [0, 1_000_001])
def test_max_assignments_beyond_the_documented_limits_is_refused(local_mturk, mturk, max_assignments):
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    error = error_of(
        mturk.create_hit_with_hit_type,
        HITTypeId=type_id,
        LifetimeInSeconds=3600,
        MaxAssignments=max_assignments,
        Question=QUESTION,
    )
    assert error["Code"] == "ValidationException" and "MaxAssignments" in error["Message"]
    assert local_mturk.store.hits == {}


def test_patterns_enums_and_maxima_that_botocore_lets_through_are_refused(mturk):
    assert (
        "UniqueRequestToken"
        in error_of(
            mturk.create_hit, LifetimeInSeconds=3600, Question=QUESTION, UniqueRequestToken="t" * 65, **HIT_TYPE
        )["Message"]
    )
    bad_comparator = {"QualificationTypeId": "000000000000000000L0", "Comparator": "AtLeast", "IntegerValues": [95]}
    message = error_of(mturk.create_hit_type, QualificationRequirements=[bad_comparator], **HIT_TYPE)["Message"]
    assert "QualificationRequirements[0].Comparator must be one of" in message
    assert "MaxResults allows at most 100" in error_of(mturk.list_hits, MaxResults=101)["Message"]
    assert error_of(mturk.get_hit, HITId="not-an-id")["Code"] == "ValidationException"
    assert error_of(mturk.create_hit_type, **{**HIT_TYPE, "Title": "t" * 129})["Code"] == "ValidationException"
    assert (
        error_of(mturk.create_hit_type, **{**HIT_TYPE, "AssignmentDurationInSeconds": 10})["Code"]
        == "ValidationException"
    )


def test_a_malformed_question_or_a_requirement_on_an_unknown_qualification_is_refused(mturk):
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    error = error_of(
        mturk.create_hit_with_hit_type, HITTypeId=type_id, LifetimeInSeconds=3600, Question="<ExternalQuestion>"
    )
    assert error["Code"] == "ParameterValidationError" and "error parsing the XML question" in error["Message"]
    unknown = {"QualificationTypeId": "3NOSUCHQUALIFICATION", "Comparator": "Exists"}
    assert (
        error_of(mturk.create_hit_type, QualificationRequirements=[unknown], **HIT_TYPE)["Code"]
        == "ParameterValidationError"
    )
    valueless = {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo"}
    assert (
        error_of(mturk.create_hit_type, QualificationRequirements=[valueless], **HIT_TYPE)["Code"]
        == "ParameterValidationError"
    )


# ---------------------------------------------------------------- HIT types, HITs, tokens, paging


def test_a_hit_type_with_the_same_properties_is_the_same_hit_type(mturk):
    first = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    assert mturk.create_hit_type(**HIT_TYPE)["HITTypeId"] == first
    assert mturk.create_hit_type(**{**HIT_TYPE, "Reward": "0.51"})["HITTypeId"] != first


def test_created_hit_reads_back_with_its_type_and_counts(mturk):
    hit = make_hit(mturk, max_assignments=3, RequesterAnnotation="batch-1/k1")
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["HITStatus"] == "Assignable" and got["Reward"] == "0.50" and got["Title"] == "Find fish"
    assert (got["MaxAssignments"], got["NumberOfAssignmentsAvailable"], got["NumberOfAssignmentsPending"]) == (3, 3, 0)
    assert got["RequesterAnnotation"] == "batch-1/k1" and got["Question"] == QUESTION
    assert (got["Expiration"] - got["CreationTime"]).total_seconds() == pytest.approx(3600)
    error = error_of(mturk.get_hit, HITId="3NOSUCHHIT")
    assert (error["Code"], error["TurkErrorCode"]) == ("RequestError", "AWS.MechanicalTurk.HITDoesNotExist")


def test_a_repeated_unique_request_token_answers_hit_already_exists_with_the_hit_id_for_24_hours(local_mturk, mturk):
    hit = make_hit(mturk, UniqueRequestToken="org1-batch2-hit3-r1")
    error = error_of(
        mturk.create_hit_with_hit_type,
        HITTypeId=hit["HITTypeId"],
        LifetimeInSeconds=3600,
        Question=QUESTION,
        UniqueRequestToken="org1-batch2-hit3-r1",
    )
    assert (error["Code"], error["TurkErrorCode"]) == ("RequestError", "AWS.MechanicalTurk.HitAlreadyExists")
    assert hit["HITId"] in error["Message"]
    assert len(local_mturk.store.hits) == 1
    local_mturk.advance(DAY + 1)  # MTurk forgets the token after 24 hours: a duplicate HIT is possible
    again = mturk.create_hit_with_hit_type(
        HITTypeId=hit["HITTypeId"], LifetimeInSeconds=3600, Question=QUESTION, UniqueRequestToken="org1-batch2-hit3-r1"
    )["HIT"]
    assert again["HITId"] != hit["HITId"] and len(local_mturk.store.hits) == 2


def test_list_hits_pages_past_100_with_next_token(mturk):
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    created = {
        mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, Question=QUESTION)["HIT"]["HITId"]
        for _ in range(205)
    }
    seen, sizes, params = [], [], {"MaxResults": 100}
    while True:
        page = mturk.list_hits(**params)
        sizes.append(page["NumResults"])
        seen += [h["HITId"] for h in page["HITs"]]
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert sizes == [100, 100, 5] and len(seen) == 205 and set(seen) == created
    assert [h["HITId"] for h in mturk.get_paginator("list_hits").paginate().build_full_result()["HITs"]] == seen
    assert error_of(mturk.list_hits, NextToken="bogus")["Code"] == "ParameterValidationError"


# ---------------------------------------------------------------- the worker site


def test_preview_shows_the_external_url_without_an_assignment(local_mturk, mturk):
    hit = make_hit(mturk)
    page = local_mturk.page(f"/worker/hits/{hit['HITId']}")
    src = unescape(page.html.split('id="hit-frame" src="')[1].split('"')[0])
    query = parse_qs(urlsplit(src).query)
    assert src.startswith("http://127.0.0.1:5000/annotate?hitDatasetName=1&imageNetHitId=k1&")
    assert query["assignmentId"] == ["ASSIGNMENT_ID_NOT_AVAILABLE"] and query["hitId"] == [hit["HITId"]]
    assert "workerId" not in query
    listing = local_mturk.page(f"/worker/?hitTypeId={hit['HITTypeId']}")
    assert hit["HITId"] in listing.html and "Find fish" in listing.html


def test_choosing_a_worker_id_sets_who_works_and_stays_on_this_site(local_mturk, mturk):
    hit = make_hit(mturk)
    chosen = local_mturk.page("/worker/identity", {"worker_id": "a1chosen", "next": f"/worker/hits/{hit['HITId']}"})
    assert chosen.status == 200 and chosen.url.endswith(f"/worker/hits/{hit['HITId']}")
    assert local_mturk.page("/worker/identity", {"worker_id": "A1", "next": "//evil.example.org/"}).url.endswith(
        "/worker/"
    )
    assert local_mturk.page("/worker/identity", {"worker_id": "not a worker"}).status == 400
    generated = local_mturk.accept(hit["HITId"], worker_id="")
    with local_mturk.store.lock:
        assert re.fullmatch(r"A[A-Z0-9]{13}", local_mturk.store.assignments[generated].worker_id)


def test_accept_shows_the_hit_with_the_query_mturk_sends(local_mturk, mturk):
    hit = make_hit(mturk)
    assignment_id = local_mturk.accept(hit["HITId"], "AWORKERONE")
    page = local_mturk.page(f"/worker/assignments/{assignment_id}", worker_id="AWORKERONE")
    query = parse_qs(urlsplit(unescape(page.html.split('id="hit-frame" src="')[1].split('"')[0])).query)
    assert query["assignmentId"] == [assignment_id] and query["hitId"] == [hit["HITId"]]
    assert query["workerId"] == ["AWORKERONE"]
    assert query["turkSubmitTo"] == [local_mturk.endpoint_url]  # the host only, no path
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (got["NumberOfAssignmentsPending"], got["NumberOfAssignmentsAvailable"]) == (1, 2)
    # At work, the assignment is not the requester's to see yet.
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    assert local_mturk.page(f"/worker/assignments/{assignment_id}", worker_id="AOTHERWORKER").status == 404


def test_external_submit_records_the_form_and_builds_the_answer(local_mturk, mturk):
    hit = make_hit(mturk)
    assignment_id = local_mturk.accept(hit["HITId"], "AWORKERONE")
    page = local_mturk.submit(assignment_id, completionCode="FL-123", labels=["cat", "dog"], note="naïve <b>")
    assert page.status == 200 and "HIT submitted" in page.html
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Submitted" and assignment["WorkerId"] == "AWORKERONE"
    assert "QuestionFormAnswers" in assignment["Answer"]
    assert parse_answer(assignment["Answer"]) == {"completionCode": "FL-123", "labels": "cat|dog", "note": "naïve <b>"}
    recorded = local_mturk.store.submissions[-1]
    assert recorded["assignmentId"] == assignment_id and recorded["fields"]["completionCode"] == ["FL-123"]
    assert (assignment["AutoApprovalTime"] - assignment["SubmitTime"]).total_seconds() == pytest.approx(3600)
    # Twice, or without an assignment: refused, and nothing changes.
    assert local_mturk.submit(assignment_id, completionCode="again").status == 409
    assert local_mturk.page("/mturk/externalSubmit", {"completionCode": "x"}).status == 400
    assert local_mturk.page("/mturk/externalSubmit", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE"}).status == 400
    assert len(local_mturk.store.submissions) == 1


def test_max_assignments_is_respected_and_a_worker_takes_a_hit_once(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=2)
    local_mturk.accept(hit["HITId"], "AWORKERONE")
    assert local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "AWORKERONE"}).status == 403
    local_mturk.accept(hit["HITId"], "AWORKERTWO")
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Unassignable"
    refused = local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "AWORKERTHREE"})
    assert refused.status == 403 and "no longer available" in refused.html


def test_a_returned_assignment_id_is_handed_to_the_next_worker(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=1)
    first = local_mturk.accept(hit["HITId"], "AWORKERONE")
    local_mturk.return_assignment(first, "AWORKERONE")
    second = local_mturk.accept(hit["HITId"], "AWORKERTWO")
    assert second == first
    assert local_mturk.submit(second, as_worker="AWORKERONE", done="late").status == 403  # not theirs any more
    assert local_mturk.submit(second, as_worker="AWORKERTWO", done="yes").status == 200
    assignment = mturk.get_assignment(AssignmentId=second)["Assignment"]
    assert assignment["WorkerId"] == "AWORKERTWO"
    assert local_mturk.store.assignments[second].history == [
        {"worker_id": "AWORKERONE", "status": "Returned", "time": pytest.approx(local_mturk.store.now(), abs=60)}
    ]


def test_nobody_submits_another_workers_assignment(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=2)
    theirs = local_mturk.accept(hit["HITId"], "AWORKERONE")
    local_mturk.accept(hit["HITId"], "AWORKERTWO")
    refused = local_mturk.page("/mturk/externalSubmit", {"assignmentId": theirs, "done": "x"})  # no cookie
    assert refused.status == 403 and "not yours" in refused.html
    assert local_mturk.submit(theirs, as_worker="AWORKERTWO", done="x").status == 403
    assert local_mturk.store.assignments[theirs].status == "Accepted" and not local_mturk.store.submissions
    assert local_mturk.submit(theirs, as_worker="AWORKERONE", done="yes").status == 200


def test_the_admin_endpoints_are_off_without_a_token(local_mturk):
    assert admin(local_mturk.endpoint_url, "/_localturk/state", token=None)[0] == 404
    assert admin(local_mturk.endpoint_url, "/_localturk/state")[0] == 404


def test_an_abandoned_assignment_frees_its_slot_under_the_same_id(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=1)
    first = local_mturk.accept(hit["HITId"], "AWORKERONE")
    local_mturk.advance(601)  # past the 600 s assignment duration
    assert local_mturk.submit(first, done="late").status == 409
    assert local_mturk.accept(hit["HITId"], "AWORKERTWO") == first


# ---------------------------------------------------------------- review, bonuses


def submitted(local_mturk, mturk, worker_id="AWORKERONE", **hit_params):
    hit = make_hit(mturk, **hit_params)
    assignment_id = local_mturk.accept(hit["HITId"], worker_id)
    local_mturk.submit(assignment_id, done="yes")
    return hit, assignment_id


def test_approve_only_when_submitted(local_mturk, mturk):
    hit = make_hit(mturk)
    at_work = local_mturk.accept(hit["HITId"], "AWORKERONE")
    error = error_of(mturk.approve_assignment, AssignmentId=at_work)
    assert error["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    local_mturk.submit(at_work, done="yes")
    mturk.approve_assignment(AssignmentId=at_work, RequesterFeedback="Thanks")
    again = error_of(mturk.approve_assignment, AssignmentId=at_work)
    assert (again["Code"], again["TurkErrorCode"]) == ("RequestError", "AWS.MechanicalTurk.InvalidAssignmentState")
    assert "status of: Submitted" in again["Message"]
    assert (
        error_of(mturk.reject_assignment, AssignmentId=at_work, RequesterFeedback="no")["TurkErrorCode"]
        == "AWS.MechanicalTurk.InvalidAssignmentState"
    )
    assignment = mturk.get_assignment(AssignmentId=at_work)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved" and assignment["RequesterFeedback"] == "Thanks"
    assert (
        error_of(mturk.approve_assignment, AssignmentId="3NOSUCHASSIGNMENT")["TurkErrorCode"]
        == "AWS.MechanicalTurk.AssignmentDoesNotExist"
    )


def test_reject_needs_feedback_and_a_rejection_can_be_overridden(local_mturk, mturk):
    _, assignment_id = submitted(local_mturk, mturk)
    with pytest.raises(ParamValidationError):  # botocore itself knows RequesterFeedback is required
        mturk.reject_assignment(AssignmentId=assignment_id)
    assert (
        error_of(mturk.reject_assignment, AssignmentId=assignment_id, RequesterFeedback="")["Code"]
        == "ParameterValidationError"
    )
    mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="No fish were clicked.")
    assert (
        error_of(mturk.approve_assignment, AssignmentId=assignment_id)["TurkErrorCode"]
        == "AWS.MechanicalTurk.InvalidAssignmentState"
    )
    mturk.approve_assignment(AssignmentId=assignment_id, OverrideRejection=True)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"


def test_an_override_after_30_days_is_refused(local_mturk, mturk):
    _, assignment_id = submitted(local_mturk, mturk)
    mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="No fish were clicked.")
    local_mturk.advance(31 * DAY)
    assert (
        error_of(mturk.approve_assignment, AssignmentId=assignment_id, OverrideRejection=True)["TurkErrorCode"]
        == "AWS.MechanicalTurk.InvalidAssignmentState"
    )


def test_submitted_work_is_approved_automatically_after_the_delay(local_mturk, mturk):
    _, assignment_id = submitted(local_mturk, mturk)
    local_mturk.advance(3599)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"
    local_mturk.advance(2)
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved" and assignment["ApprovalTime"] == assignment["AutoApprovalTime"]
    assert (
        error_of(mturk.reject_assignment, AssignmentId=assignment_id, RequesterFeedback="late")["TurkErrorCode"]
        == "AWS.MechanicalTurk.InvalidAssignmentState"
    )


def test_list_assignments_pages_and_filters_by_status(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=9)
    ids = [local_mturk.accept(hit["HITId"], f"AWORKER{n}") for n in range(5)]
    for assignment_id in ids:
        local_mturk.submit(assignment_id, done="yes")
    mturk.approve_assignment(AssignmentId=ids[0])
    mturk.reject_assignment(AssignmentId=ids[1], RequesterFeedback="empty")
    pages = mturk.get_paginator("list_assignments_for_hit").paginate(
        HITId=hit["HITId"], PaginationConfig={"PageSize": 2}
    )
    assert [len(p["Assignments"]) for p in pages] == [2, 2, 1]
    only = mturk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Submitted"])["Assignments"]
    assert sorted(a["AssignmentId"] for a in only) == sorted(ids[2:])
    assert (
        error_of(mturk.list_assignments_for_hit, HITId=hit["HITId"], AssignmentStatuses=["Accepted"])["Code"]
        == "ValidationException"
    )


def test_a_bonus_needs_the_assignments_worker_and_its_token_pays_once(local_mturk, mturk):
    hit, assignment_id = submitted(local_mturk, mturk)
    mturk.approve_assignment(AssignmentId=assignment_id)
    before = mturk.get_account_balance()["AvailableBalance"]
    wrong = error_of(
        mturk.send_bonus,
        WorkerId="ASOMEONEELSE",
        BonusAmount="0.25",
        AssignmentId=assignment_id,
        Reason="Great work",
        UniqueRequestToken="bonus-1",
    )
    assert wrong["Code"] == "ParameterValidationError" and "WorkerId" in wrong["Message"]
    bonus = {
        "WorkerId": "AWORKERONE",
        "BonusAmount": "0.25",
        "AssignmentId": assignment_id,
        "Reason": "Great work",
        "UniqueRequestToken": "bonus-1",
    }
    mturk.send_bonus(**bonus)
    repeated = error_of(mturk.send_bonus, **bonus)
    assert repeated["Code"] == "RequestError" and "bonus-1" in repeated["Message"]
    payments = mturk.list_bonus_payments(AssignmentId=assignment_id)["BonusPayments"]
    assert [(p["WorkerId"], p["BonusAmount"], p["Reason"]) for p in payments] == [("AWORKERONE", "0.25", "Great work")]
    assert mturk.list_bonus_payments(HITId=hit["HITId"])["NumResults"] == 1
    assert float(before) - float(mturk.get_account_balance()["AvailableBalance"]) == pytest.approx(0.30)  # 0.25 + 20 %
    assert error_of(mturk.list_bonus_payments)["Code"] == "ParameterValidationError"


def test_the_balance_holds_rewards_and_fees_and_refuses_what_it_cannot_pay(local_mturk, mturk):
    make_hit(mturk, max_assignments=3)  # 3 x (0.50 + 0.10)
    assert mturk.get_account_balance()["AvailableBalance"] == "9998.20"
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, MaxAssignments=10, Question=QUESTION)
    assert mturk.get_account_balance()["AvailableBalance"] == "9991.20"  # 10 x (0.50 + 40 %)
    error = error_of(
        mturk.create_hit_with_hit_type,
        HITTypeId=type_id,
        LifetimeInSeconds=3600,
        MaxAssignments=100_000,
        Question=QUESTION,
    )
    assert error["TurkErrorCode"] == "AWS.MechanicalTurk.InsufficientFunds"


# ---------------------------------------------------------------- lifecycle


def test_a_hit_made_with_fewer_than_10_assignments_cannot_reach_10(local_mturk, mturk):
    hit = make_hit(mturk, max_assignments=5)
    error = error_of(mturk.create_additional_assignments_for_hit, HITId=hit["HITId"], NumberOfAdditionalAssignments=5)
    assert (error["Code"], error["TurkErrorCode"]) == (
        "RequestError",
        "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
    )
    mturk.create_additional_assignments_for_hit(
        HITId=hit["HITId"], NumberOfAdditionalAssignments=4, UniqueRequestToken="x1"
    )
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 9
    assert (
        error_of(
            mturk.create_additional_assignments_for_hit,
            HITId=hit["HITId"],
            NumberOfAdditionalAssignments=1,
            UniqueRequestToken="x1",
        )["Code"]
        == "RequestError"
    )
    big = make_hit(mturk, max_assignments=10)
    mturk.create_additional_assignments_for_hit(HITId=big["HITId"], NumberOfAdditionalAssignments=5)
    assert mturk.get_hit(HITId=big["HITId"])["HIT"]["MaxAssignments"] == 15
    assert (
        error_of(mturk.create_additional_assignments_for_hit, HITId=big["HITId"], NumberOfAdditionalAssignments=0)[
            "Code"
        ]
        == "ValidationException"
    )


def test_update_expiration_expires_now_and_extends_again(local_mturk, mturk):
    hit = make_hit(mturk)
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["HITStatus"] == "Reviewable" and got["NumberOfAssignmentsAvailable"] == 0
    assert local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "AWORKERONE"}).status == 403
    assert hit["HITId"] not in local_mturk.page("/worker/").html
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=local_mturk.store.now() + 3600)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"


def test_delete_hit_only_when_reviewable_and_every_submission_decided(local_mturk, mturk):
    hit, assignment_id = submitted(local_mturk, mturk, max_assignments=2)
    assert (
        error_of(mturk.delete_hit, HITId=hit["HITId"])["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidHITState"
    )  # Assignable
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    assert (
        error_of(mturk.delete_hit, HITId=hit["HITId"])["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidHITState"
    )  # undecided
    mturk.approve_assignment(AssignmentId=assignment_id)
    assert [h["HITId"] for h in mturk.list_reviewable_hits()["HITs"]] == [hit["HITId"]]
    mturk.delete_hit(HITId=hit["HITId"])
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    assert mturk.list_hits()["HITs"] == [] and mturk.list_reviewable_hits()["HITs"] == []


def test_a_hit_with_a_worker_at_work_cannot_be_deleted(local_mturk, mturk):
    hit = make_hit(mturk)
    local_mturk.accept(hit["HITId"], "AWORKERONE")
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Unassignable"
    assert error_of(mturk.delete_hit, HITId=hit["HITId"])["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidHITState"


def test_list_reviewable_hits_filters_by_type_and_status(local_mturk, mturk):
    hit, assignment_id = submitted(local_mturk, mturk, max_assignments=1)
    other = mturk.create_hit_type(**{**HIT_TYPE, "Title": "Other"})["HITTypeId"]
    assert mturk.list_reviewable_hits(HITTypeId=hit["HITTypeId"])["NumResults"] == 1
    assert mturk.list_reviewable_hits(HITTypeId=other)["NumResults"] == 0
    mturk.update_hit_review_status(HITId=hit["HITId"])
    assert mturk.list_reviewable_hits(Status="Reviewing")["HITs"][0]["HITId"] == hit["HITId"]


# ---------------------------------------------------------------- qualifications, blocks, messages, notifications


def test_a_soft_block_qualification_with_does_not_exist_keeps_the_worker_out(local_mturk, mturk):
    block = mturk.create_qualification_type(
        Name="Blocked by Lab", Description="soft block", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    assert (
        error_of(
            mturk.create_qualification_type,
            Name="Blocked by Lab",
            Description="again",
            QualificationTypeStatus="Active",
        )["Code"]
        == "RequestError"
    )
    listed = mturk.list_qualification_types(Query="blocked", MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert [q["QualificationTypeId"] for q in listed["QualificationTypes"]] == [block]
    assert mturk.list_qualification_types(Query="blocked", MustBeRequestable=True)["NumResults"] == 0
    requirement = {
        "QualificationTypeId": block,
        "Comparator": "DoesNotExist",
        "ActionsGuarded": "DiscoverPreviewAndAccept",
    }
    hit = make_hit(mturk, max_assignments=3)
    type_id = mturk.create_hit_type(QualificationRequirements=[requirement], **{**HIT_TYPE, "Title": "Guarded"})[
        "HITTypeId"
    ]
    guarded = mturk.create_hit_with_hit_type(
        HITTypeId=type_id, LifetimeInSeconds=3600, MaxAssignments=2, Question=QUESTION
    )["HIT"]
    mturk.associate_qualification_with_worker(
        QualificationTypeId=block, WorkerId="ABLOCKED", IntegerValue=1, SendNotification=False
    )
    refused = local_mturk.page(f"/worker/hits/{guarded['HITId']}/accept", {"worker_id": "ABLOCKED"})
    assert refused.status == 403 and block in refused.html
    assert guarded["HITId"] not in local_mturk.page("/worker/", worker_id="ABLOCKED").html
    assert hit["HITId"] in local_mturk.page("/worker/", worker_id="ABLOCKED").html
    local_mturk.accept(guarded["HITId"], "AWELCOME")
    mturk.disassociate_qualification_from_worker(QualificationTypeId=block, WorkerId="ABLOCKED", Reason="forgiven")
    local_mturk.accept(guarded["HITId"], "ABLOCKED")


def test_system_qualifications_come_from_the_workers_profile(local_mturk, mturk):
    requirements = [
        {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [95]},
        {
            "QualificationTypeId": "00000000000000000071",
            "Comparator": "In",
            "LocaleValues": [{"Country": "US"}, {"Country": "GB"}],
        },
    ]
    type_id = mturk.create_hit_type(QualificationRequirements=requirements, **HIT_TYPE)["HITTypeId"]
    hit = mturk.create_hit_with_hit_type(
        HITTypeId=type_id, LifetimeInSeconds=3600, MaxAssignments=3, Question=QUESTION
    )["HIT"]
    local_mturk.accept(hit["HITId"], "AGOODWORKER")
    with local_mturk.store.lock:
        local_mturk.store.worker("ALOWRATE").approval_rate = 90
        local_mturk.store.worker("AFARAWAY").locale = {"Country": "FR"}
    assert local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "ALOWRATE"}).status == 403
    assert local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "AFARAWAY"}).status == 403


def test_a_hard_block_keeps_the_worker_out_until_deleted(local_mturk, mturk):
    hit = make_hit(mturk)
    mturk.create_worker_block(WorkerId="ABADWORKER", Reason="Copied answers")
    assert local_mturk.page(f"/worker/hits/{hit['HITId']}/accept", {"worker_id": "ABADWORKER"}).status == 403
    assert mturk.list_worker_blocks()["WorkerBlocks"] == [{"WorkerId": "ABADWORKER", "Reason": "Copied answers"}]
    mturk.delete_worker_block(WorkerId="ABADWORKER", Reason="appeal")
    local_mturk.accept(hit["HITId"], "ABADWORKER")


def test_notify_workers_takes_at_most_100_and_reports_unknown_workers(local_mturk, mturk):
    _, assignment_id = submitted(local_mturk, mturk, worker_id="AWORKERONE")
    answer = mturk.notify_workers(
        Subject="New batch", MessageText="More fish tomorrow.", WorkerIds=["AWORKERONE", "ASTRANGER"]
    )
    assert [f["WorkerId"] for f in answer["NotifyWorkersFailureStatuses"]] == ["ASTRANGER"]
    assert [m["WorkerId"] for m in local_mturk.store.messages] == ["AWORKERONE"]
    too_many = error_of(mturk.notify_workers, Subject="s", MessageText="m", WorkerIds=[f"AW{n}" for n in range(101)])
    assert too_many["Code"] == "ValidationException" and "WorkerIds allows at most 100" in too_many["Message"]


def test_notification_settings_record_the_events_mturk_would_send(local_mturk, mturk):
    hit = make_hit(mturk)
    spec = {
        "Destination": "https://sqs.us-east-1.amazonaws.com/123456789012/events",
        "Transport": "SQS",
        "Version": "2006-05-05",
        "EventTypes": ["AssignmentSubmitted", "AssignmentReturned", "HITExpired"],
    }
    mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Notification=spec, Active=True)
    first = local_mturk.accept(hit["HITId"], "AWORKERONE")
    local_mturk.return_assignment(first, "AWORKERONE")
    second = local_mturk.accept(hit["HITId"], "AWORKERTWO")
    local_mturk.submit(second, done="yes")
    local_mturk.advance(3601)  # the HIT's lifetime runs out
    assert [(e["EventType"], e.get("AssignmentId")) for e in local_mturk.store.events] == [
        ("AssignmentReturned", first),
        ("AssignmentSubmitted", second),
        ("HITExpired", None),
    ]
    mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Active=False)
    bad = {**spec, "EventTypes": ["FishCaught"]}
    assert (
        error_of(mturk.update_notification_settings, HITTypeId=hit["HITTypeId"], Notification=bad)["Code"]
        == "ValidationException"
    )


# ---------------------------------------------------------------- faults: callers' retries are exercised


def test_throttling_of_the_first_call_is_retried_by_standard_retries(local_mturk):
    local_mturk.inject(throttle_first=True)
    answer = local_mturk.client().get_account_balance()
    assert answer["AvailableBalance"] == "10000.00" and answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert local_mturk.store.faults.throttled == ["GetAccountBalance"]
    no_retries = local_mturk.client(retries={"mode": "standard", "total_max_attempts": 1})
    assert error_of(no_retries.list_hits)["Code"] == "ThrottlingException"  # ListHITs's first call


def test_a_dropped_create_response_then_the_retry_answers_hit_already_exists(local_mturk):
    mturk = local_mturk.client()
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    local_mturk.inject(throttle_first=True, drop_creates=1)
    error = error_of(
        mturk.create_hit_with_hit_type,
        HITTypeId=type_id,
        LifetimeInSeconds=3600,
        Question=QUESTION,
        UniqueRequestToken="org1-batch1-hit1",
    )
    assert error["TurkErrorCode"] == "AWS.MechanicalTurk.HitAlreadyExists"
    (created,) = local_mturk.store.hits
    assert created in error["Message"] and local_mturk.store.faults.dropped == [created]


# ---------------------------------------------------------------- development only, persistence


def test_it_refuses_production(monkeypatch):
    with pytest.raises(NotInDevelopment):
        ensure_development({"FREELUNCH_ENV": "production"})
    with pytest.raises(NotInDevelopment):
        ensure_development({"FREELUNCH_ENV": "development"}, host="0.0.0.0")
    ran = subprocess.run(
        [sys.executable, "-m", "freelunch.localturk", "--port", "0"],
        capture_output=True,
        text=True,
        env={"FREELUNCH_ENV": "production", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert ran.returncode == 2 and "FREELUNCH_ENV=development or testing" in ran.stderr


def test_state_saved_to_a_file_survives_a_restart(tmp_path):
    path = tmp_path / "localturk.json"
    store = Store(path)
    with store.lock:
        from freelunch.localturk.requester import OPERATIONS

        type_id = OPERATIONS["CreateHITType"](store, dict(HIT_TYPE))["HITTypeId"]
        hit = OPERATIONS["CreateHITWithHITType"](
            store, {"HITTypeId": type_id, "LifetimeInSeconds": 60, "Question": QUESTION, "UniqueRequestToken": "t1"}
        )["HIT"]
        store.save()
    again = Store(path)
    assert list(again.hits) == [hit["HITId"]] and again.hit_types[type_id].reward == "0.50"
    assert again.recent_token("CreateHIT", "t1") == hit["HITId"]


def test_events_reach_an_sqs_queue_in_mturks_message_format(local_mturk, mturk):
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="mturk-events")["QueueUrl"]
        local_mturk.deliver_to_sqs(sqs)
        spec = {
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2006-05-05",
            "EventTypes": ["AssignmentSubmitted"],
        }
        mturk.send_test_event_notification(Notification=spec, TestEventType="Ping")
        hit = make_hit(mturk)
        mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Notification=spec, Active=True)
        assignment_id = local_mturk.accept(hit["HITId"], "AWORKERONE")
        local_mturk.submit(assignment_id, done="yes")
        bodies = [
            json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        ]
    assert [b["EventDocVersion"] for b in bodies] == ["2014-08-15", "2014-08-15"]
    assert [e["EventType"] for b in bodies for e in b["Events"]] == ["Ping", "AssignmentSubmitted"]
    submitted_event = bodies[1]["Events"][0]
    assert (submitted_event["HITId"], submitted_event["AssignmentId"]) == (hit["HITId"], assignment_id)
    assert len({b["EventDocId"] for b in bodies}) == 2


ADMIN_TOKEN = "test-admin-token"


def admin(endpoint: str, path: str, body: dict | None = None, token: str | None = ADMIN_TOKEN) -> tuple[int, dict]:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {}


def test_the_command_serves_keeps_state_and_takes_faults_and_time_over_http(tmp_path):
    state = tmp_path / "turk.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freelunch.localturk",
            "--port",
            "0",
            "--state",
            str(state),
            "--faults",
            "drop-create",
            "--log",
            "failures",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"FREELUNCH_ENV": "development", "PATH": "/usr/bin:/bin", "LOCALTURK_ADMIN_TOKEN": ADMIN_TOKEN},
    )
    try:
        endpoint = re.search(r"(http://127\.0\.0\.1:\d+)/", process.stdout.readline()).group(1)
        assert admin(endpoint, "/_localturk/state", token=None)[0] == 401  # worker ids need the token
        assert admin(endpoint, "/_localturk/state", token="guess")[0] == 401
        assert admin(endpoint, "/_localturk/clock", {"advance": 3600}, token=None)[0] == 401
        assert admin(endpoint, "/_localturk/state")[1]["faults"]["drop_creates"] == 1
        assert admin(endpoint, "/_localturk/faults", {"throttle_first": True})[1]["drop_creates"] == 0
        assert admin(endpoint, "/_localturk/faults", {"drop_creates": "many"})[0] == 400
        before = admin(endpoint, "/_localturk/state")[1]["now"]
        assert admin(endpoint, "/_localturk/clock", {"advance": 3600})[1]["now"] >= before + 3600
        assert admin(endpoint, "/_localturk/clock", {"forward": 1})[0] == 400
        status, body = raw_call(endpoint, "MTurkRequesterServiceV20170117.CreateHITType", json.dumps(HIT_TYPE).encode())
        assert (status, body["__type"]) == (400, "ThrottlingException")
        status, body = raw_call(endpoint, "MTurkRequesterServiceV20170117.CreateHITType", json.dumps(HIT_TYPE).encode())
        assert status == 200 and body["HITTypeId"] in state.read_text()
    finally:
        process.terminate()
        _, log = process.communicate(timeout=10)
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # werkzeug colours the status
    assert '"POST / HTTP/1.1" 400' in log and '" 200 ' not in log  # only refused requests are logged
