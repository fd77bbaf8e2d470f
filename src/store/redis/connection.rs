//! Connecting to Redis, and its errors by kind: a store that cannot be reached is told
//! apart from one that refused a command.

use std::time::Duration;

use super::RedisStore;
use crate::error::{StoreError, StoreFault};
use crate::store::{Keys, RedisUrl};

/// How long a connection, a read or a write may take.
const TIMEOUT: Duration = Duration::from_secs(5);

impl RedisStore {
    pub fn connect(
        url: &RedisUrl,
        keys: Keys,
        tls_ca: Option<&std::path::Path>,
    ) -> Result<Self, StoreError> {
        let label = url.to_string();
        let fail = |e: redis::RedisError| redis_error(&label, &e);
        let client = match tls_ca {
            Some(ca) => {
                let pem = std::fs::read(ca).map_err(|e| {
                    StoreError::new(
                        label.clone(),
                        format!("store.tls_ca_file {}: {e}", ca.display()),
                    )
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url.expose(), certificates).map_err(fail)?
            }
            None if url.expose().starts_with(super::sentinel::SCHEME) => {
                let sentinel = super::sentinel::SentinelUrl::parse(url.expose())
                    .map_err(|e| StoreError::new(label.clone(), e))?;
                sentinel.master().map_err(fail)?
            }
            None => redis::Client::open(url.expose()).map_err(fail)?,
        };
        let connection = client.get_connection_with_timeout(TIMEOUT).map_err(fail)?;
        connection.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        connection.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        Ok(Self {
            connection,
            label,
            keys,
        })
    }

    pub(super) fn error(&self, error: impl std::fmt::Display) -> StoreError {
        StoreError::new(self.label.clone(), error)
    }

    pub(super) fn redis(&self, error: &redis::RedisError) -> StoreError {
        redis_error(&self.label, error)
    }
}

/// A Redis error with its kind: a connection that failed or timed out is
/// [`StoreFault::Unreachable`], anything else [`StoreFault::Failed`].
pub(super) fn redis_error(label: &str, error: &redis::RedisError) -> StoreError {
    let unreachable = error.is_io_error()
        || error.is_timeout()
        || error.is_connection_refusal()
        || error.is_connection_dropped();
    let fault = if unreachable {
        StoreFault::Unreachable
    } else {
        StoreFault::Failed
    };
    StoreError::of(fault, label, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_nobody_listens_on_is_unreachable() {
        // a port just released: nothing listens there
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let crate::store::Location::Redis(url) =
            crate::store::Location::parse(&format!("redis://127.0.0.1:{port}/0")).unwrap()
        else {
            panic!("a Redis URL");
        };
        let err = RedisStore::connect(&url, Keys::default(), None).unwrap_err();
        assert_eq!(err.fault, StoreFault::Unreachable, "{err}");
    }
}
