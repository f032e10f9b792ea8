"""The request checker both the gateway and the local MTurk use: botocore's model, plus MTurk's documented limits."""
from __future__ import annotations

import datetime

import pytest

from freelunch.localturk.requester import OPERATIONS
from freelunch.services.mturk import service_model
from freelunch.services.mturk.service_model import InvalidRequest, check, coral_message, problems

HIT = {"Title": "Find fish", "Description": "Click every fish", "Reward": "0.50", "LifetimeInSeconds": 3600,
       "AssignmentDurationInSeconds": 600}


def test_a_valid_request_has_no_problems():
    assert problems("CreateHIT", {**HIT, "MaxAssignments": 9, "UniqueRequestToken": "t" * 64}) == []
    assert problems("UpdateExpirationForHIT", {"HITId": "3ABC", "ExpireAt": datetime.datetime(2030, 1, 1)}) == []
    check("ListHITs", {"MaxResults": 100})


@pytest.mark.parametrize(("params", "wire_path", "constraint"), [
    ({**HIT, "Reward": "1.005"}, "reward", "Member must satisfy regular expression pattern: ^[0-9]+(\\.)?[0-9]{0,2}$"),
    ({**HIT, "UniqueRequestToken": "t" * 65}, "uniqueRequestToken", "Member must have length less than or equal to 64"),
    ({**HIT, "MaxAssignments": "3"}, "maxAssignments", "Member must be an integer"),
    ({**HIT, "MaxAssignments": 2**31}, "maxAssignments", "Member must fit in a 32-bit integer"),
    ({**HIT, "QualificationRequirements": [{"QualificationTypeId": "x", "Comparator": "Near"}]},
     "qualificationRequirements.1.member.comparator", "Member must satisfy enum value set"),
    ({**HIT, "QualificationRequirements": [{"Comparator": "Exists"}]},
     "qualificationRequirements.1.member.qualificationTypeId", "Member must not be null"),
    ({**HIT, "Colour": "red"}, "colour", "Member is not in the model"),
])
def test_model_problems_name_the_member_and_the_constraint(params, wire_path, constraint):
    (found,) = problems("CreateHIT", params)
    assert found.wire_path == wire_path and found.constraint.startswith(constraint) and not found.documented


def test_documented_limits_the_model_leaves_out():
    assert [p.path for p in problems("CreateHIT", {**HIT, "Title": "t" * 129, "MaxAssignments": 0, "Reward": "0.00"})] == \
        ["Title", "Reward", "MaxAssignments"]
    assert all(p.documented for p in problems("NotifyWorkers", {"Subject": "s", "MessageText": "m",
                                                                "WorkerIds": [f"A{n}" for n in range(101)]}))
    assert problems("RejectAssignment", {"AssignmentId": "3A", "RequesterFeedback": "f" * 1025})[0].path == "RequesterFeedback"
    # Only once the model is satisfied: a wrongly typed member is one problem, not two.
    assert len(problems("CreateHIT", {**HIT, "MaxAssignments": "zero"})) == 1


def test_check_raises_one_plain_sentence_per_problem():
    with pytest.raises(InvalidRequest) as caught:
        check("SendBonus", {"WorkerId": "A1", "BonusAmount": "0.255", "AssignmentId": "3A", "Reason": "thanks"})
    assert caught.value.operation == "SendBonus" and [p.path for p in caught.value.problems] == ["BonusAmount"]
    assert "Value '0.255' at 'bonusAmount' failed to satisfy constraint" in str(caught.value)
    assert coral_message(caught.value.problems).startswith("1 validation error detected: Value '0.255'")


def test_unknown_operations_are_refused():
    with pytest.raises(KeyError):
        problems("MintMoney", {})


def test_every_operation_the_stand_in_serves_is_in_the_model():
    assert set(OPERATIONS) <= set(service_model.service_model().operation_names)
