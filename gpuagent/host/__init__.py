"""Adapters, and every side effect: systemd, docker, NVML, /proc, files, locks, the history
database, notification delivery. Only these modules reach outside the process."""
