"""Amazon Mechanical Turk.

- ``campaign``: ``publish_batch``, ``sync_batch``, ``review_assignment`` (publish HITs, reconcile, pay or reject).
"""
