"""The gradebook's database: an SQLite file (the default) or a PostgreSQL server.

nbgrader's gradebook is SQLAlchemy, so every step sees only a URL. Here, in one
place: ``postgresql://`` becomes SQLAlchemy's psycopg 3 dialect; a server that
cannot be reached is one line naming it (never its password), before a step
writes anything or when it is lost during one; and ``snapshot_to_sqlite`` gives the grading workers their
SQLite scratch copy of a server's gradebook, every table read in one
REPEATABLE READ transaction (one consistent moment, even while others write).
"""

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from .course_folder import CourseError
from .limits import DB_CONNECT_SECONDS

SQLITE = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # as given by an instructor, libpq's spellings
POSTGRES = "postgresql+psycopg://"                  # as SQLAlchemy opens it: the psycopg 3 driver
ALEMBIC_TABLE = "alembic_version"  # nbgrader's schema version, beside its models' tables


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy opens: a postgresql:// one with the psycopg driver, any other as given."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return POSTGRES + url.removeprefix(scheme)
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite gradebook's URL; None for a server's."""
    return Path(url.removeprefix(SQLITE)) if url.startswith(SQLITE) else None


def server_name(url: str) -> str:
    """Which server and database a URL names, for messages: never its password."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}, database {parsed.database or '(none)'}"


def gradebook_exists(url: str) -> bool:
    """Whether the gradebook has been made (an SQLite file, or nbgrader's tables on the server)."""
    path = sqlite_file(url)
    if path is not None:
        return path.is_file()
    engine = open_server(url)
    try:
        with engine.connect() as connection:
            return bool(inspect(connection).get_table_names())  # nbgrader's own test for a new gradebook
    except OperationalError as error:  # the driver's: no connection, refused, no such database, wrong password
        raise unreachable(url, error) from None
    finally:
        engine.dispose()


@contextmanager
def reaching_gradebook(url: str):
    """Around a step: a server's gradebook must answer before it (else nothing is written), and losing the
    server during it is one line too (CourseError), each naming the server and why."""
    if sqlite_file(url) is None:
        gradebook_exists(url)
    try:
        yield
    except OperationalError as error:
        if sqlite_file(url) is not None:
            raise
        raise unreachable(url, error) from None


def open_server(url: str, **options):
    if not url.startswith(POSTGRES):
        raise CourseError(f"not a gradebook URL: {url.split(':', 1)[0]}:... "
                          f"(use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise CourseError("the gradebook URL is not valid: postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    return create_engine(parsed, connect_args={"connect_timeout": DB_CONNECT_SECONDS}, **options)


def unreachable(url: str, error: OperationalError) -> CourseError:
    lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
    reason = lines[0] if lines else type(error.orig).__name__
    password = make_url(url).password
    if password:
        reason = reason.replace(password, "***")
    return CourseError(f"cannot reach the PostgreSQL gradebook at {server_name(url)}: {reason}")


def snapshot_to_sqlite(url: str, dest: Path) -> None:
    """Copy a server's gradebook into the new SQLite file dest: nbgrader's tables, parents before children."""
    from nbgrader.api import Base
    source = open_server(url, isolation_level="REPEATABLE READ")
    target = create_engine(f"{SQLITE}{dest}")
    try:
        with source.connect() as reading, target.begin() as writing:
            with reading.begin():  # one snapshot of every table
                Base.metadata.create_all(writing)
                for table in Base.metadata.sorted_tables:
                    rows = reading.execute(select(table)).mappings().all()
                    if rows:
                        writing.execute(insert(table), [dict(row) for row in rows])
                if inspect(reading).has_table(ALEMBIC_TABLE):
                    versions = reading.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).scalars().all()
                    writing.execute(text(f"CREATE TABLE {ALEMBIC_TABLE} (version_num VARCHAR(32) NOT NULL)"))
                    for version in versions:
                        writing.execute(text(f"INSERT INTO {ALEMBIC_TABLE} VALUES (:v)"), {"v": version})
    except OperationalError as error:
        raise unreachable(url, error) from None
    finally:
        source.dispose()
        target.dispose()
