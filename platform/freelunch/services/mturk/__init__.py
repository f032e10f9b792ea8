"""Amazon Mechanical Turk.

- ``gateway``: the boto3 client per organization and environment, and ``call`` (validate, send with retries, translate
  errors).
- ``validation``: requests checked against botocore's service model (patterns, enums, maxima), ``money``.
- ``errors``: ``MTurkError`` (one sentence, MTurk's code kept) and the codes callers react to.
- ``credentials``: an organization's AWS key pair, Fernet-encrypted at rest.
- ``access``: which account an organization uses: its own key pair, or the server's only by a site admin's grant.
- ``budget``: the daily spending limit, each money-moving call's cost reserved before it is sent.
- ``settings``: a batch's MTurk settings and the qualification requirements they make; ``qualifications``: types we own.
- ``cost``: the fee rules, the split of more than 9 assignments, estimates.
- ``publish``: the plan (cost, problems) and the exactly-once, resumable publish.
- ``lifecycle``: extend (within the 10-assignment rule), expire, delete finished HITs, spend so far.
- ``tracking``: reconciliation (ListAssignmentsForHIT into ``MTurkAssignment``), and ``sort_out``: the mismatch piles.
- ``decisions``: approve, reject, override a rejection (intent rows; ``InvalidAssignmentState`` adopts MTurk's state).
- ``autoreview``: a batch's rules, judged from services/review/quality figures.
- ``bonuses``: bonuses paid exactly once (a token per row; ListBonusPayments before a resend), within a ceiling.
- ``confirm``: what a bulk decision, bonus or top-up will do and cost, for the requester to confirm.
- ``fairpay``: hourly pay estimated and measured by the server's clock, the floor, top-ups to a rate.
"""
