"""Accounts and identities.

- ``users``: ``create_user``, ``sign_up``, ``authenticate``, ``accept_invite`` (users, organizations, memberships).
- ``identity``: ``anonymous_worker_id``, ``assignment_token`` / ``assignment_from_token``, ``completion_code``
  (keyed identities for workers, derived from server secrets).
"""
