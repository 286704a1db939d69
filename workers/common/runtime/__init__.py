"""The worker runtime: the loop every task runs, its session contract, the
lease, draining, the reconciler, Celery hooks, probes, segments, finalize."""
