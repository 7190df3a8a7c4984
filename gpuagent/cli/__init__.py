"""The command line: the only place that parses arguments, maps errors to exit codes and renders."""
