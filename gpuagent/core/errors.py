"""The errors gpuagent shows to people: a message saying what is wrong and a hint saying
what to do about it. cli/app.py is the only place that turns them into output and exit codes."""


class GpuAgentError(Exception):
    """A failure the user can act on. exit_code is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidInput(GpuAgentError):
    """Bad usage: an argument, option or job file value that does not validate."""

    exit_code = 2


class NotFound(GpuAgentError):
    """A job (or run) the user named does not exist."""

    exit_code = 2


class SystemdError(GpuAgentError):
    """systemctl / systemd-analyze / journalctl failed or is missing."""


class DockerError(GpuAgentError):
    """dockerd is unreachable or refused a request."""


class NvmlUnavailable(GpuAgentError):
    """NVML could not be loaded or initialised (no NVIDIA driver on this host)."""
