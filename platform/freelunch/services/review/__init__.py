"""Reading a batch's results: tallies, quality, labels, progress and replay.

- ``tallies``: ``derive``, ``refresh``, ``in_batch`` (the review read model, derived as pages are stored).
- ``quality``: ``figures``, ``page_figures``, ``worker_rows``, ``control_scores`` (how well workers did).
- ``labels``: ``summary``, ``page``, ``stream``, ``count``, ``default_rule`` (selection frequency and decisions).
- ``progress``: ``batch_progress``, ``throughput`` (HITs, assignments and pages done).
- ``replay``: ``replay`` (a submitted page as the worker lived it).
- ``aggregation``: ``fit``, ``decide`` (Dawid–Skene and selection frequency on vote arrays).
- ``rounds``: ``more_votes``, ``plan`` (dynamic consensus); ``round_plan``: the next round of a batch.
- ``fits``: ``load_votes``, ``start``, ``run``, ``latest`` (label fits stored per batch).
- ``vote_files``: ``read_votes``, ``write_csv`` (``freelunch labels``' files).
"""
