"""Shared fixtures: real databases migrated with Alembic, and a Redis db number of our own."""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clr.datasets import dataset_plugins
from clr.plugins import model_plugins
from store.db import make_engine, make_sessionmaker
from store.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "CLR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# A Redis db number per pytest-xdist worker (gw0: 13, gw1: 12, …): parallel workers never share a queue.
XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
REDIS_URL = os.environ.get("CLR_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{13 - XDIST_INDEX}")
EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "clr-plugin-tabular"
FAULTY_PLUGIN = (
    Path(__file__).resolve().parent / "plugins" / "clr-plugin-faulty"
)  # test only: raises on demand


def unavailable(what: str, error: Exception) -> None:
    """Skip on a laptop without the server; fail under CI, where the server must be there."""
    message = f"{what} unreachable: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def taking_turns(name: str) -> Iterator[None]:
    """One test process at a time in the block (pytest-xdist runs several): installers must not overlap."""
    with open(Path(tempfile.gettempdir()) / f"clr-tests-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def apt_install(package: str, installed: Callable[[], bool]) -> None:
    """Install a Debian package with apt-get (as CI does, as root) unless `installed()` already holds."""
    with taking_turns("apt"):
        if installed():
            return
        install = ["apt-get", "install", "-y", "-q", package]
        if subprocess.run(install, capture_output=True, check=False, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False, timeout=300)
            subprocess.run(install, capture_output=True, check=False, timeout=900)
    if not installed():
        unavailable(package, FileNotFoundError(f"apt-get install {package} failed"))


@pytest.fixture(scope="session")
def fashion_mnist() -> Path:
    """Real Fashion-MNIST (60,000 training and 10,000 test images) from Debian's dataset-fashion-mnist."""
    from clr.idx import DISTRIBUTION_DIRS

    folder = DISTRIBUTION_DIRS["fashion_mnist"]
    apt_install("dataset-fashion-mnist", lambda: (folder / "t10k-labels-idx1-ubyte.gz").is_file())
    return folder


def create_postgres_database(admin: Engine) -> str:
    """A fresh PostgreSQL database migrated to head; its URL."""
    name = f"clr_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        unavailable("PostgreSQL", error)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


def drop_postgres_database(admin: Engine, url: str) -> None:
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head, dropped afterwards."""
    url = create_postgres_database(postgres_admin)
    yield url
    drop_postgres_database(postgres_admin, url)


@pytest.fixture(scope="session")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """`own_database("postgres" | "sqlite")`: a fresh migrated database for one live service.

    Live services run a relay, which sends every queued run it finds: on the shared databases it would
    send the runs other tests left queued to its workers.
    """
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('own-db') / 'clr.db'}"
            upgrade(url)
            return url
        created.append(create_postgres_database(admin))
        return created[-1]

    yield make
    for url in created:
        drop_postgres_database(admin, url)
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'clr.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()


@pytest.fixture(scope="session")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Our own Redis db number, emptied once per session."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as error:
        unavailable("Redis", error)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


def _installed_as_in_the_repository(folder: Path) -> bool:
    """Whether the package in `folder` is installed here with the same entry points and modules."""
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    try:
        found = metadata.distribution(project["name"])
    except metadata.PackageNotFoundError:
        return False
    declared = {name for group in project["entry-points"].values() for name in group}
    if {point.name for point in found.entry_points} != declared:
        return False
    packages = [init.parent for init in folder.glob("*/__init__.py")]
    sources = {
        path.relative_to(folder).as_posix(): path for package in packages for path in package.rglob("*.py")
    }
    copies = {file.as_posix(): file for file in found.files or [] if file.suffix == ".py"}
    return set(sources) <= set(copies) and all(
        Path(str(found.locate_file(copies[name]))).read_bytes() == path.read_bytes()
        for name, path in sources.items()
    )


@pytest.fixture(scope="session")
def tabular_plugin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example plugin package (and the suite's faulty one) installed here, as plugins are into an image.

    Installed once (again only when their files changed), so the API and worker processes the tests start see
    their entry points too; the plugin caches of this process are read again afterwards.
    """
    with taking_turns("pip"):
        for package in (EXAMPLE_PLUGIN, FAULTY_PLUGIN):
            if not _installed_as_in_the_repository(package):
                # Built from a copy: the build leaves nothing in the tree.
                copy = tmp_path_factory.mktemp("plugin") / package.name
                shutil.copytree(package, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
                install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
                subprocess.run([*install, str(copy)], check=True, capture_output=True, timeout=600)
    importlib.invalidate_caches()
    model_plugins.cache_clear()
    dataset_plugins.cache_clear()
    assert {"csv_features", "faulty_set"} <= set(dataset_plugins())
    assert {"tabular_mlp", "faulty_net"} <= set(model_plugins())
    return "clr-plugin-tabular"
