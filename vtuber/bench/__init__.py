"""Benchmarks behind ``vtuber bench MODE``: each mode is a module here (``face`` first; others
such as throughput or soak register their own modes in ``vtuber.commands.bench``)."""
