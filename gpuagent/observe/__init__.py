"""What the world outside the host sees of the jobs: Prometheus metrics, dcgm-exporter's
job mapping, notifications and dead man's switch pings. Below run/ and commands/, which
call it when something changes; above host/, which does the writing and sending."""
