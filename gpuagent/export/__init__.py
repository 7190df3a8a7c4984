"""Moving a job to a cluster: each engine (Slurm, Kubernetes) owns its mapping of the settings. Nothing in the core imports this package."""
