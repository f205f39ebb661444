"""Local compute instances: daemon processes that run queued script jobs."""
