"""One run of a job, start to end: admission, reservations, the container, its GPU use, its outcome, its record, its metrics, the jobs it starts."""
