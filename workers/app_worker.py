"""The RQ worker class: ``rq worker -w workers.app_worker.AppWorker``.

Jobs call into freelunch services, which need the Flask app's config and the
database binding; this worker builds the app once and runs every job inside
its app context, with a database connection opened and closed around each job.
"""
from __future__ import annotations

from rq import Worker

from freelunch import create_app
from freelunch.db import database


class AppWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = create_app()

    def perform_job(self, job, queue):
        with self.app.app_context(), database.connection_context():
            return super().perform_job(job, queue)
