//! Read connections for reports and listings. Each is used by one blocking task at a time;
//! the pool grows on demand up to the number of concurrent readers and keeps `keep` idle.

use std::sync::Mutex;

use duckdb::Connection;

use super::StoreError;

/// A pool of read connections to the store's database.
pub struct Readers {
    /// Template to clone new connections from (same database instance).
    template: Mutex<Connection>,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl Readers {
    pub(crate) fn new(conn: &Connection, keep: usize) -> Result<Readers, StoreError> {
        let template = conn
            .try_clone()
            .map_err(StoreError::db("opening a read connection"))?;
        Ok(Readers {
            template: Mutex::new(template),
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
        })
    }

    /// Runs `work` with a read connection. Blocking: call it from a blocking thread.
    ///
    /// # Errors
    /// Whatever `work` returns, or a failure to open a connection.
    pub fn with_conn<T, E>(&self, work: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.checkout()?;
        let result = work(&conn);
        self.checkin(conn);
        result
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .pop()
        {
            return Ok(conn);
        }
        self.template
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .try_clone()
            .map_err(StoreError::db("opening a read connection"))
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|poison| poison.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }
}

/// A UTC instant as a DuckDB TIMESTAMP value (microseconds).
pub fn timestamp_value(instant: chrono::DateTime<chrono::Utc>) -> duckdb::types::Value {
    duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, instant.timestamp_micros())
}
