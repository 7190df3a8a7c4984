"""gpuagent: scheduled GPU training runs on bare-metal servers, the systemd way."""

__version__ = "0.1.0"
