"""Batches of HITs, from the builder form to the links a worker opens.

- ``builder``: ``problems``, ``start_build``, ``settle`` (check a batch can be filled, build it in a job, fail a build
  whose job RQ will never run).
- ``hits``: ``build_hits`` (pages of one class with its candidates and controls).
- ``links``: ``survey_link`` (the URL a worker opens).
- ``survey``: ``batch_csv``, ``check_results``, ``decisions_csv`` (the MTurk survey-link kit).
"""
