"""Alembic migrations, shipped inside the package so `clr-service migrate` works from any directory."""
