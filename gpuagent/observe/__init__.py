"""What the world outside the host sees of the jobs: how their runs go (health), Prometheus
metrics, dcgm-exporter's job mapping, notifications and dead man's switch pings."""
