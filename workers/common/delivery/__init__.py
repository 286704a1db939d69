"""Getting results out: storage (local or S3), callbacks, file links."""
