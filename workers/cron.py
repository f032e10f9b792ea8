"""Periodic jobs for ``rq cron workers.cron`` (run exactly one cron process)."""
