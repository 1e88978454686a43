"""Revisions, applied in order by `clr-service migrate`."""
