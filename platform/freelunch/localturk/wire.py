"""MTurk's wire protocol (AWS JSON 1.1): ``POST /`` with ``X-Amz-Target: MTurkRequesterServiceV20170117.<Operation>``.

Errors are ``{"__type": ..., "Message": ...}`` (plus ``TurkErrorCode`` on
MTurk's RequestError and ServiceFault), which botocore turns into a ClientError
whose ``response["Error"]["Code"]`` is the ``__type`` and whose
``response["TurkErrorCode"]`` is MTurk's code. Every request is checked by the
gateway's own validator (``services/mturk/validation.py``: botocore's model,
patterns, enums and maxima, and the limits the API reference adds); what it
refuses is answered ``ValidationException``, as AWS's front end does.
Signatures are not verified: any credentials do, but a request must be signed.
"""

from __future__ import annotations

import json
import socket
import uuid

from flask import Blueprint, Response, current_app, request

from ..services.mturk.errors import InvalidRequest
from ..services.mturk.validation import service_model, validate
from .requester import OPERATIONS, TurkError
from .store import Store

TARGET_PREFIX = service_model().metadata["targetPrefix"] + "."
CONTENT_TYPE = "application/x-amz-json-1.1"
CREATES = ("CreateHIT", "CreateHITWithHITType")

bp = Blueprint("localturk_wire", __name__)


def store() -> Store:
    return current_app.extensions["localturk"]


def _answer(body: dict, status: int = 200) -> Response:
    response = Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _error(error: TurkError) -> Response:
    body = {"__type": error.kind, "Message": error.message}
    if error.turk_code:
        body["TurkErrorCode"] = error.turk_code
    return _answer(body, error.status)


def _drop_connection() -> None:
    """Close the socket under the response, as a network failure after the work was done would."""
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        connection.shutdown(socket.SHUT_RDWR)


@bp.post("/")
def call() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    operation = target.removeprefix(TARGET_PREFIX)
    try:
        if "Authorization" not in request.headers:
            raise TurkError("MissingAuthenticationTokenException", "Missing Authentication Token")
        if not target.startswith(TARGET_PREFIX) or operation not in service_model().operation_names:
            raise TurkError("UnknownOperationException", f"Unknown operation {target!r}")
        if operation not in OPERATIONS:
            raise TurkError(
                "UnknownOperationException",
                f"The local MTurk does not implement {operation} (docs/local-mturk.md lists what it does).",
            )
        try:
            params = json.loads(request.get_data() or b"{}")
        except ValueError as error:
            raise TurkError("SerializationException", f"The request body is not JSON: {error}") from error
        if not isinstance(params, dict):
            raise TurkError("SerializationException", "The request body must be a JSON object")
        try:
            validate(operation, params)
        except InvalidRequest as error:
            raise TurkError("ValidationException", f"1 validation error detected: {error}") from error
        with store().lock:
            faults = store().faults
            if faults.throttle_first and operation not in faults.throttled:
                faults.throttled.append(operation)
                raise TurkError("ThrottlingException", "Rate exceeded")
            store().catch_up()
            answer = OPERATIONS[operation](store(), params)
            store().catch_up()  # what the call set in motion (a HIT expired now, say)
            if not operation.startswith(("Get", "List")):
                store().save()
            if operation in CREATES and faults.drop_creates > 0:
                faults.drop_creates -= 1
                faults.dropped.append(answer["HIT"]["HITId"])
                _drop_connection()
    except TurkError as error:
        return _error(error)
    except Exception:  # a bug of ours: answer as MTurk's own faults do, and keep the traceback in the log
        current_app.logger.exception("local MTurk failed on %s", operation)
        return _error(
            TurkError("ServiceFault", "The local MTurk failed; see its log.", "AWS.MechanicalTurk.ServiceFault", 500)
        )
    return _answer(answer)
