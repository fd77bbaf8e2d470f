//! `redis+sentinel://[user:password@]host:port[,host:port…]/SERVICE[/DB]`: the store is
//! whichever server the sentinels name as SERVICE's master now, asked afresh at each
//! connection, so a refresh after a failover publishes to the promoted master with no
//! change of configuration. The credentials are the master's; the sentinels are asked
//! without.

/// A sentinel URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelUrl {
    pub sentinels: Vec<(String, u16)>,
    pub service: String,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
}

pub const SCHEME: &str = "redis+sentinel://";

impl SentinelUrl {
    /// The parts of `text`, or what is wrong with it (never quoting the password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or("not a redis+sentinel:// URL")?;
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, rest),
        };
        let mut parts = rest.split('/');
        let hosts = parts.next().unwrap_or_default();
        let service = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or("no service name after the hosts")?;
        let db = match parts.next().filter(|d| !d.is_empty()) {
            Some(db) => db
                .parse()
                .map_err(|_| format!("database {db:?} is not a number"))?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err("expected …/SERVICE[/DB] after the hosts".into());
        }
        let sentinels = hosts
            .split(',')
            .map(|host| {
                let (name, port) = host
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{host:?} has no :port"))?;
                let port = port
                    .parse()
                    .map_err(|_| format!("{host:?}: the port is not a number"))?;
                if name.is_empty() {
                    return Err(format!("{host:?} has no host"));
                }
                Ok((name.to_owned(), port))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (username, password) = match credentials.map(|c| c.split_once(':').unwrap_or((c, ""))) {
            Some((user, password)) => (
                Some(decode(user)).filter(|u| !u.is_empty()),
                Some(decode(password)).filter(|p| !p.is_empty()),
            ),
            None => (None, None),
        };
        Ok(Self {
            sentinels,
            service: service.to_owned(),
            db,
            username,
            password,
        })
    }

    /// A client of the master the sentinels name now.
    pub fn master(&self) -> redis::RedisResult<redis::Client> {
        let addrs = self
            .sentinels
            .iter()
            .map(|(host, port)| redis::ConnectionAddr::Tcp(host.clone(), *port));
        let mut builder = redis::sentinel::SentinelClientBuilder::new(
            addrs,
            &self.service,
            redis::sentinel::SentinelServerType::Master,
        )?
        .set_client_to_redis_db(self.db);
        if let Some(user) = &self.username {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        builder.build()?.get_client()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_parse_or_say_what_is_wrong() {
        let url =
            SentinelUrl::parse("redis+sentinel://app:p%40ss@a:26379,b:26380/mymaster/2").unwrap();
        assert_eq!(
            url.sentinels,
            [("a".to_owned(), 26379), ("b".to_owned(), 26380)]
        );
        assert_eq!((url.service.as_str(), url.db), ("mymaster", 2));
        assert_eq!(
            (url.username.as_deref(), url.password.as_deref()),
            (Some("app"), Some("p@ss"))
        );
        assert_eq!(
            SentinelUrl::parse("redis+sentinel://a:1/m")
                .unwrap()
                .password,
            None
        );
        let shown = crate::store::redact("redis+sentinel://app:s3cret@a:1,b:2/m");
        assert!(
            !shown.contains("s3cret") && shown.contains("a:1,b:2/m"),
            "{shown}"
        );
        for bad in [
            "redis+sentinel://a:1",
            "redis+sentinel://a/m",
            "redis+sentinel://a:x/m",
            "redis+sentinel://a:1/m/x",
            "redis+sentinel://:1/m",
        ] {
            assert!(SentinelUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
