"""A batch's export files.

- ``files``: ``start``, ``run``, ``file_path``, ``delete`` (export files made by jobs, downloaded by their organization).
- ``seed``: ``seed_records``, ``write_seed_jsonl`` (byproduct records in the seed's format, streamed).
"""
