"""The ``jobrelay`` command line: workers, node agents, reads and commands, and the demo."""
