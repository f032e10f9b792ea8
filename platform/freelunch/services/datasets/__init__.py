"""Datasets as a whole.

- ``deletion``: ``impact`` (what deleting a dataset takes with it) and ``delete_dataset``.
"""
