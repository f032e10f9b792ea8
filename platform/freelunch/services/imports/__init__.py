"""Getting classes and images into a dataset.

- ``classes``: ``import_classes_json``, ``import_preset``, ``import_classes_csv``, ``decode``, ``split_names``
  (ImageNetV2 JSON or CSV).
- ``images``: ``import_image_manifest``, ``import_image_zip``, ``check_zip`` (URL manifests and ZIPs of files).
- ``safe_fetch``: ``fetch``, ``check_url`` (fetching a requester's URL without reaching our own network).
"""
