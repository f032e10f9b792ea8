"""Near-duplicate images: a perceptual hash per image (hashing), groups found by multi-index hashing (groups)."""
