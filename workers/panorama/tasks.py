"""The panorama pool's Celery task: one line into the shared runtime."""
