"""Alembic migrations. `billing migrate` applies them; `alembic` works with `-c` pointing at
`alembic.ini` in this folder."""
