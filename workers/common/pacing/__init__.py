"""Time rules on an injected clock: when to try again (backoff) and how long
the other side has been away (presence). Imports nothing else of the farm."""
