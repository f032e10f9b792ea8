"""Amazon Mechanical Turk.

- ``gateway``: the boto3 client per organization and environment, and ``call`` (validate, send with retries, translate errors).
- ``validation``: requests checked against botocore's service model (patterns, enums, maxima), ``money``.
- ``errors``: ``MTurkError`` (one sentence, MTurk's code kept) and the codes callers react to.
- ``credentials``: an organization's AWS key pair, Fernet-encrypted at rest.
- ``campaign``: ``publish_batch``, ``sync_batch``, ``review_assignment`` (publish HITs, reconcile, pay or reject).
"""
