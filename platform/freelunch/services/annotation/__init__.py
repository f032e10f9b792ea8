"""A worker's way through a HIT.

- ``pages``: ``open_link``, ``opened_by_token``, ``page_view``, ``parse_summary``, ``submit_page``, ``hit_pages``
  (open or resume an assignment, show a page, store a submitted page by record-format.md's rules).
- ``record``: ``FIELDS``, ``checked``, ``Field.reader`` (the per-image record's fields in one table: tracker key,
  column, export name, check; read by the summary check, the seed export and the records CSV).
- ``image_refs``: ``refs``, ``stored_path`` (the opaque ids a worker's page names its images by, and back).
"""
