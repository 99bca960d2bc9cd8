//! The `mysql` and `pgsql` negotiate checks (upstream `check_sql`): log in
//! to `database` on the real with `login`/`passwd`, run `request`, up iff it
//! yields at least one row. mysql goes through `mysql_async`, pgsql through
//! `tokio-postgres`, both without TLS (upstream's DBD drivers default to
//! none either).
//!
//! Must not: read more than [`CAP`] bytes from the server, outlive
//! `negotiatetimeout`, or fetch more than the first row (a health query on
//! a big table must stay cheap). `oracle` is not here (no pure-Rust client).

use std::future::poll_fn;
use std::pin::pin;

use super::common::{self, AbortOnDrop, Capped, Relay};
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Service;

/// Most bytes read from the server in one probe: the handshake, the
/// column definitions and the first row fit easily; an endless answer is
/// cut off here.
const CAP: usize = 4 << 20;

/// Upstream's words (its log line says "Error: … Not adding <RIP>.").
const NEED_LOGIN: &str =
    "Must specify a login and request string for MySQL, Oracle and PostgreSQL checks";

/// Run the sql check of `t` (`t.service` is mysql or pgsql).
pub async fn check(t: &Target) -> CheckResult {
    // The parser puts a `/` in front of every request; upstream takes it
    // off again here (so the default request "/" is an empty query).
    let query = t.request.strip_prefix('/').unwrap_or(&t.request);
    if t.login.is_empty() || query.is_empty() {
        return Err(CheckError::Config(NEED_LOGIN.into()));
    }
    // COMPAT: upstream passes no timeout to DBI (a hung database hangs the
    // whole ldirectord) and dies outright when `prepare` fails (misspelt
    // goto label). Here the whole exchange runs under negotiatetimeout and
    // any failure is just "down".
    common::within(t, async {
        match t.service {
            Service::Mysql => mysql(t, query).await,
            Service::Pgsql => pgsql(t, query).await,
            other => Err(CheckError::Config(format!(
                "{other} is not an sql service this build can check"
            ))),
        }
    })
    .await
}

async fn mysql(t: &Target, query: &str) -> CheckResult {
    use mysql_async::prelude::Queryable;

    let addr = common::socket_addr(t)?;
    // mysql_async only opens its own sockets: it talks to the real through
    // a capped loopback relay.
    let relay = Relay::open(addr, CAP).await?;
    let db = (!t.database.is_empty()).then(|| t.database.clone());
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(relay.local.ip().to_string())
        .tcp_port(relay.local.port())
        .user(Some(t.login.clone()))
        .pass(Some(t.passwd.clone()))
        .db_name(db)
        // Known values, so the client does not query the server for them.
        .prefer_socket(false)
        .max_allowed_packet(Some(CAP))
        .wait_timeout(Some(60))
        .stmt_cache_size(0);
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| relay.explain(mysql_error(e)))?;
    let result: Result<String, CheckError> = async {
        let mut res = conn.query_iter(query).await?;
        if res.columns_ref().is_empty() {
            // Not a SELECT: DBI's rows() is the affected-row count.
            let n = res.affected_rows();
            return Ok(if n > 0 {
                format!("{n} rows affected")
            } else {
                String::new()
            });
        }
        Ok(match res.next().await? {
            Some(row) => format!("first row has {} columns", row.len()),
            None => String::new(),
        })
    }
    .await
    .map_err(|e: mysql_async::Error| relay.explain(mysql_error(e)));
    // No orderly disconnect: it would first drain the rest of the result.
    drop(conn);
    match result? {
        d if d.is_empty() => Err(CheckError::Mismatch("the query returned no rows".into())),
        d => Ok(d),
    }
}

fn mysql_error(e: mysql_async::Error) -> CheckError {
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => CheckError::from(io),
        mysql_async::Error::Server(s) => {
            // 1044/1045: access denied (bad login or no grant on the
            // database); 1049: unknown database.
            if matches!(s.code, 1044 | 1045) {
                CheckError::Auth(format!("{} ({})", s.message, s.code))
            } else {
                CheckError::Status(format!("MySQL error {}: {}", s.code, s.message))
            }
        }
        other => CheckError::Protocol(other.to_string()),
    }
}

async fn pgsql(t: &Target, query: &str) -> CheckResult {
    let addr = common::socket_addr(t)?;
    let tcp = common::connect(addr).await?;
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(&t.login).password(&t.passwd);
    // Empty database: libpq (and so DBD::Pg) then uses the user name, as
    // tokio-postgres does when no dbname is set.
    if !t.database.is_empty() {
        cfg.dbname(&t.database);
    }
    cfg.application_name("ldirectord");
    let (client, connection) = cfg
        .connect_raw(Capped::new(tcp, CAP), tokio_postgres::NoTls)
        .await
        .map_err(pg_error)?;
    let _driver = AbortOnDrop(tokio::spawn(connection));
    // Extended protocol: prepare, then execute, as DBI does.
    let rows = client
        .query_raw(query, std::iter::empty::<&str>())
        .await
        .map_err(pg_error)?;
    let mut rows = pin!(rows);
    match poll_fn(|cx| rows.as_mut().poll_next_row(cx)).await {
        Some(Ok(row)) => Ok(format!("first row has {} columns", row.len())),
        Some(Err(e)) => Err(pg_error(e)),
        None => match rows.rows_affected() {
            // Not a SELECT: DBI's rows() is the affected-row count.
            Some(n) if n > 0 => Ok(format!("{n} rows affected")),
            _ => Err(CheckError::Mismatch("the query returned no rows".into())),
        },
    }
}

/// `RowStream` is a `futures::Stream`; poll it without pulling in
/// futures-util.
trait PollNextRow {
    fn poll_next_row(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::Row, tokio_postgres::Error>>>;
}

impl PollNextRow for tokio_postgres::RowStream {
    fn poll_next_row(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::Row, tokio_postgres::Error>>> {
        futures_core::Stream::poll_next(self, cx)
    }
}

fn pg_error(e: tokio_postgres::Error) -> CheckError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // Class 28: invalid authorization; 3D000: no such database.
        return if code.starts_with("28") {
            CheckError::Auth(format!("{} ({code})", db.message()))
        } else {
            CheckError::Status(format!("PostgreSQL error {code}: {}", db.message()))
        };
    }
    // Socket errors come wrapped; report the io error itself when there is
    // one (refused, reset, our read cap).
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return CheckError::Io(io.to_string());
        }
        src = s.source();
    }
    CheckError::Protocol(e.to_string())
}
