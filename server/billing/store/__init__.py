"""Storage: SQLAlchemy Core on asyncio. SQLite embedded by default, PostgreSQL in production."""
