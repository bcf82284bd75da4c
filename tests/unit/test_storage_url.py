"""The database URL parser keeps every libpq parameter and refuses what it cannot read."""

from __future__ import annotations

import json

import pytest

from ledger.errors import InvalidInputError
from ledger.storage import (
    LEDGER_URL_OPTIONS,
    LIBPQ_PARAMETERS,
    PostgresURL,
    library_env,
    parse_postgres_url,
    with_password,
)


def _where(url: PostgresURL) -> tuple[str, str, str, str]:
    """Where the URL connects: host, port, user and database."""
    return url.host, url.port, url.user, url.dbname


class TestKeepsLibpqParameters:
    def test_tls_and_client_parameters_are_kept(self) -> None:
        """sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name, ...
        reach the connection (they used to be dropped: only five settings passed)."""
        url = parse_postgres_url(
            "postgresql://ledger@db.internal:5433/ledger?sslmode=verify-full"
            "&sslrootcert=/run/secrets/ca.pem&sslcert=/certs/client.crt&sslkey=/certs/client.key"
            "&connect_timeout=4&application_name=ledger-api&target_session_attrs=read-write"
            "&keepalives_idle=30&passfile=/run/secrets/pgpass"
        )
        assert dict(url.libpq) == {
            "sslmode": "verify-full",
            "sslrootcert": "/run/secrets/ca.pem",
            "sslcert": "/certs/client.crt",
            "sslkey": "/certs/client.key",
            "connect_timeout": "4",
            "application_name": "ledger-api",
            "target_session_attrs": "read-write",
            "keepalives_idle": "30",
            "passfile": "/run/secrets/pgpass",
        }
        assert _where(url) == ("db.internal", "5433", "ledger", "ledger")
        assert url.connect_timeout_s == 4

    def test_they_reach_the_library_environment(self) -> None:
        """The factory reads them from POSTGRES_LIBPQ_PARAMS, and connect_timeout
        also bounds the library's wait for a connection."""
        env = library_env("postgresql://u@h/db?sslmode=require&connect_timeout=3").env
        assert env["PERSISTENCE_MODULE"] == "ledger.backends.postgres:LedgerPostgresFactory"
        assert json.loads(env["POSTGRES_LIBPQ_PARAMS"]) == {
            "sslmode": "require",
            "connect_timeout": "3",
        }
        assert env["POSTGRES_CONNECT_TIMEOUT"] == "3"

    def test_the_ledger_options_are_not_passed_to_libpq(self) -> None:
        url = parse_postgres_url(
            "postgresql://u@h/db?schema=s1&pool_size=2&max_overflow=0&create_tables=no"
        )
        assert (url.schema, url.create_tables) == ("s1", "no")
        assert (url.pool_size, url.max_overflow) == (2, 0)
        assert dict(url.libpq) == {}

    def test_defaults(self) -> None:
        url = parse_postgres_url("postgresql:///ledger")
        assert (url.host, url.port, url.user, url.password, url.schema) == (
            "127.0.0.1",
            "5432",
            "postgres",
            "",
            "public",
        )
        assert (url.pool_size, url.max_overflow, url.connect_timeout_s) == (5, 10, 5)

    def test_percent_encoding_is_decoded_as_libpq_does(self) -> None:
        """%XX is decoded everywhere; a + stays a + (it is not a form-encoded space)."""
        url = parse_postgres_url(
            "postgresql://us%40er:p%40ss+w%2Frd@h/my%20db?options=-c%20search_path%3Dledger"
            "&application_name=a+b"
        )
        assert (url.user, url.password, url.dbname) == ("us@er", "p@ss+w/rd", "my db")
        assert url.libpq["options"] == "-c search_path=ledger"
        assert url.libpq["application_name"] == "a+b"

    def test_several_hosts_and_ipv6(self) -> None:
        """libpq's multi-host form (failover with target_session_attrs) and [v6] hosts."""
        url = parse_postgres_url("postgresql://u@db1:5432,[2001:db8::1]:5433,db3/ledger")
        assert url.host == "db1,2001:db8::1,db3"
        assert url.port == "5432,5433,5432"

    def test_a_socket_directory_and_the_parts_as_query_parameters(self) -> None:
        """host, port, user, dbname and password may be query parameters (libpq allows it)."""
        url = parse_postgres_url(
            "postgresql://?host=%2Fvar%2Frun%2Fpostgresql&port=5434&user=app&dbname=ledger"
        )
        assert _where(url) == ("/var/run/postgresql", "5434", "app", "ledger")

    def test_every_parameter_the_installed_libpq_knows_is_accepted(self) -> None:
        """LIBPQ_PARAMETERS covers the libpq that psycopg runs on (update it when a new
        libpq adds one)."""
        from psycopg import pq

        known = {d.keyword.decode() for d in pq.Conninfo.get_defaults()}
        assert known <= LIBPQ_PARAMETERS, known - LIBPQ_PARAMETERS
        assert not LIBPQ_PARAMETERS & LEDGER_URL_OPTIONS


class TestRefusesWhatItCannotRead:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            (
                "postgresql://h/db?sslmod=require",
                "unknown parameter 'sslmod' (did you mean 'sslmode'?)",
            ),
            ("postgresql://h/db?sslmode=require&sslmode=disable", "'sslmode' is given twice"),
            ("postgresql://h/db?sslmode", "needs the form name=value"),
            ("postgresql://h/db?sslmode=on", "sslmode 'on' is not one of"),
            ("postgresql://h:99999/db", "port '99999' is not a number from 1 to 65535"),
            ("postgresql://h:port/db", "port 'port' is not a number"),
            ("postgresql://h/", "names its database"),
            ("postgresql://h", "names its database"),
            ("postgresql://h/db?dbname=other", "dbname is given both"),
            ("postgresql://u@h/db?user=v", "user is given both"),
            ("postgresql://h/db?pool_size=0", "pool_size must be a whole number of at least 1"),
            ("postgresql://h/db?max_overflow=-1", "max_overflow must be a whole number"),
            ("postgresql://h/db?connect_timeout=soon", "connect_timeout must be a whole number"),
            ("postgresql://h/db?create_tables=maybe", "create_tables must be yes or no"),
            ("postgresql://h/db?schema=", "schema is empty"),
            ("postgresql://h/db#frag", "no #fragment"),
            ("postgresql://[::1/db", "Invalid IPv6 URL"),
            ("postgresql://a,/db", "an empty host in a list of hosts"),
        ],
    )
    def test_a_malformed_url_is_a_clear_error(self, url: str, reason: str) -> None:
        """Named problem, field db: never a traceback from deep in the driver, never a
        silently ignored parameter (a typo in sslmode would connect without TLS)."""
        with pytest.raises(InvalidInputError) as caught:
            library_env(url)
        assert caught.value.field == "db"
        assert reason in caught.value.reason
        assert caught.value.reason.startswith("malformed database URL: ")

    def test_an_error_never_shows_the_password(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            library_env("postgresql://u:hunter2-secret@h:bad/db")
        assert "hunter2" not in str(caught.value)

    def test_the_password_is_not_in_the_repr(self) -> None:
        assert "hunter2" not in repr(parse_postgres_url("postgresql://u:hunter2@h/db"))

    def test_an_unknown_scheme(self) -> None:
        with pytest.raises(InvalidInputError, match="unsupported database URL scheme 'mysql'"):
            library_env("mysql://h/db")


class TestWithPassword:
    def test_it_completes_a_url_without_one(self) -> None:
        """Any character survives the round trip (percent-encoded in the URL)."""
        secret = "p@ss:w/rd?#&%+ é"
        url = with_password("postgresql://ledger@postgres:5432/ledger?sslmode=require", secret)
        parsed = parse_postgres_url(url)
        assert parsed.password == secret
        assert (parsed.user, parsed.host, parsed.dbname) == ("ledger", "postgres", "ledger")
        assert parsed.libpq["sslmode"] == "require"

    def test_a_url_without_a_user_keeps_the_default_user(self) -> None:
        parsed = parse_postgres_url(with_password("postgresql://postgres/ledger", "pw"))
        assert (parsed.user, parsed.password) == ("postgres", "pw")

    @pytest.mark.parametrize(
        "url", ["postgresql://u:already@h/db", "postgresql://u@h/db?password=already"]
    )
    def test_it_refuses_a_second_password(self, url: str) -> None:
        """One password, one place: which of two would count is a guess."""
        with pytest.raises(InvalidInputError, match="has a password already"):
            with_password(url, "other")

    def test_it_refuses_sqlite(self) -> None:
        with pytest.raises(InvalidInputError, match="applies to a PostgreSQL URL"):
            with_password("sqlite:///./ledger.db", "pw")
