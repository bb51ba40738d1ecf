"""Storage: the database schema, migrations and the stores over them."""

#: Here rather than in ``database`` so that reading it (``chainwatch --help``) does not import SQLAlchemy.
DEFAULT_DB_URL = "sqlite:///chainwatch.db"
