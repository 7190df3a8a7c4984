"""What every feature stands on: errors, paths, quantities (sizes, durations, --since), value readers."""
