"""Domain operations, shared by views, CLI commands and RQ jobs, one subpackage per domain.

Subpackages (each ``__init__`` names its public functions): ``accounts``, ``datasets``,
``imports``, ``batches``, ``annotation``, ``ingest``, ``review``, ``exports``, ``mturk``.
Shared modules: ``jobs`` (enqueue and watch background jobs), ``schema`` (migrations),
``demo`` (the demo organization), ``overview`` (the organization's home page: every batch's progress, pace and
spend, read across the domains), ``spreadsheet`` (CSV writers that neutralise formula cells, for every CSV we write).
Dependencies run one way; see docs/architecture.md.
"""
