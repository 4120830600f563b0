"""Where a run's summary goes: Slack, a JSON report file, a Pushgateway, the terminal.

Each module renders the same `RunSummary`; none of them can change the run's exit code.
`publish.publish` is the one entry point the CLI calls.
"""
