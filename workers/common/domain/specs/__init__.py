"""The public contract: one pydantic model per service's Start (field names, ranges and
defaults of the seed documents). The dispatcher validates with them at the edge; workers
rebuild the same model from the task record, so nothing downstream re-checks raw dicts."""
