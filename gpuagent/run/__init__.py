"""One run of a job, start to end: admission, reservations, the container, its GPU use, its record."""
