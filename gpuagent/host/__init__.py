"""Every side effect: systemd, docker, NVML, /proc, files, locks and the history database. Only these modules reach outside the process."""
