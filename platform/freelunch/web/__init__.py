"""Web plumbing every blueprint shares: Flask extensions, page-or-partial, pagination and sorting, error pages,
security headers, the request log and its redaction, the navigation's context."""
