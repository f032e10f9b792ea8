"""``BurstWorker``: RQ's SimpleWorker for tests, without the command listener whose shutdown can take a minute.

An RQ worker listens for commands (stop a job, shut down) on a Redis pub/sub channel, in a thread. At the end of a
burst rq 2.12 unsubscribes, then stops that thread, and redis-py 8 waits for the thread with no timeout. When the
thread reads the unsubscribe reply before the stop flag is set (the test process descheduled between the two calls,
as on a busy machine), it waits 60 s for a subscription that never comes, and the test with it. No test sends a worker
a command; the jobs themselves run as in production: dequeued from Redis, performed, their results stored.
"""

from rq import SimpleWorker


class BurstWorker(SimpleWorker):
    def subscribe(self) -> None:
        pass  # no command listener (above)

    def unsubscribe(self) -> None:
        pass
