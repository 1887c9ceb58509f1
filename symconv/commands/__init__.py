"""The command line's subcommands: one module each, parsed and run by ``symconv.cli``.

Each module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int`` and keeps
framework imports inside ``run``; ``arguments`` holds the options that describe a convolution.

Imports: any stage below (the whole package is beneath the command line).  No module imports
``commands`` but ``symconv.cli``, which finds them by name.
"""
