"""The `usagecast` command: a thin dispatcher from subcommands to each package's public API."""
