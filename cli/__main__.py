"""`python -m cli`: the same as the `clr-service` command."""

from cli.main import app

app()
