"""Domain operations, shared by views, CLI commands and RQ jobs."""
