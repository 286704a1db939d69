"""The local farm on 127.0.0.1: command lines (stack), child processes, the supervisor."""
