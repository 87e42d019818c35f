"""The ``weakloc`` command line: one module per command group."""
