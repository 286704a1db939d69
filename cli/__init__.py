"""`capstan`: the farm's command line. A client of the dispatcher's HTTP API only.

config    where the dispatcher and the signing key come from (flags, then environment)
client    HTTP requests, signed when a key is configured; ApiError for error bodies
commands  one function per command; the argument parser
render    what a person reads: task lines, progress bars, tables
"""
