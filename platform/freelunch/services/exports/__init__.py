"""A batch's export files.

- ``kinds``: ``KINDS``, ``Kind`` (every kind of export in one table: the dashboard's, the CLI's ``--format``, the
  writer).
- ``files``: ``start``, ``run``, ``params``, ``file_path``, ``delete`` (export files made by jobs, downloaded by their
  organization).
- ``writers``: one writer per kind, ``(batch, out, params, report) -> rows`` (streamed, flat memory).
- ``seed``: ``seed_records`` (byproduct records in the seed's format, streamed).
"""
