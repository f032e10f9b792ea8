"""The XML MTurk exchanges: the Question a HIT is created with, and the Answer an externalSubmit produces."""

from __future__ import annotations

from xml.etree import ElementTree
from xml.sax.saxutils import escape

ANSWERS_NAMESPACE = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
)
QUESTION_KINDS = ("ExternalQuestion", "HTMLQuestion", "QuestionForm")
PARSE_ERROR = (
    "There was an error parsing the XML question or answer data in your request. Please make sure the data is "
    "well-formed and validates against the appropriate schema. Details: {details}"
)


class QuestionError(ValueError):
    """The Question is not one MTurk would accept; the message is MTurk's."""


def parse_question(xml: str) -> tuple[str, int]:
    """(ExternalURL or "", FrameHeight) of a Question; raises QuestionError when MTurk would refuse it."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise QuestionError(PARSE_ERROR.format(details=error)) from error
    kind = root.tag.rsplit("}", 1)[-1]
    if kind not in QUESTION_KINDS:
        raise QuestionError(
            PARSE_ERROR.format(details=f"the root element {kind} is not one of {', '.join(QUESTION_KINDS)}")
        )
    if kind != "ExternalQuestion":
        return "", 0
    found = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in root}
    url = found.get("ExternalURL", "")
    if not url.startswith(("http://", "https://")):
        raise QuestionError(PARSE_ERROR.format(details="ExternalURL must be an absolute http(s) URL"))
    try:
        height = int(found.get("FrameHeight", "0"))
    except ValueError as error:
        raise QuestionError(PARSE_ERROR.format(details="FrameHeight must be an integer")) from error
    return url, height


def answer_xml(fields: dict[str, list[str]]) -> str:
    """The Answer MTurk stores for an external HIT: every posted field but assignmentId, as FreeText.

    Several values under one name are joined with ``|``. Non-ASCII characters
    become character references, as MTurk's ASCII-encoded answers carry them.
    """
    parts = [f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{ANSWERS_NAMESPACE}">']
    for name, values in fields.items():
        if name == "assignmentId":
            continue
        parts.append(
            f"<Answer><QuestionIdentifier>{escape(name)}</QuestionIdentifier>"
            f"<FreeText>{escape('|'.join(values))}</FreeText></Answer>"
        )
    parts.append("</QuestionFormAnswers>")
    return "".join(parts).encode("ascii", "xmlcharrefreplace").decode("ascii")


def parse_answer(xml: str) -> dict[str, str]:
    """QuestionIdentifier -> FreeText of an Answer (what a requester's code reads back)."""
    root = ElementTree.fromstring(xml.encode("ascii"))
    ns = {"a": ANSWERS_NAMESPACE}
    return {
        a.findtext("a:QuestionIdentifier", "", ns): a.findtext("a:FreeText", "", ns)
        for a in root.findall("a:Answer", ns)
    }
