"""Amazon Mechanical Turk.

- ``gateway``: the boto3 client per organization and environment, and ``call`` (validate, send with retries, translate errors).
- ``validation``: requests checked against botocore's service model (patterns, enums, maxima), ``money``.
- ``errors``: ``MTurkError`` (one sentence, MTurk's code kept) and the codes callers react to.
- ``credentials``: an organization's AWS key pair, Fernet-encrypted at rest.
- ``campaign``: ``publish_batch`` (publish HITs).
- ``tracking``: reconciliation (ListAssignmentsForHIT into ``MTurkAssignment``), and ``sort_out``: the mismatch piles.
- ``decisions``: approve, reject, override a rejection (intent rows; ``InvalidAssignmentState`` adopts MTurk's state).
- ``autoreview``: a batch's rules, judged from services/review/quality figures.
- ``bonuses``: bonuses paid exactly once (a token per row; ListBonusPayments before a resend).
"""
