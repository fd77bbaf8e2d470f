//! Store URLs with their secrets taken out, for every message that quotes one: a parsed
//! URL keeps its user and host, a URL that does not parse keeps only its scheme and host.

/// A store URL that does not parse, redacted: everything between the scheme (kept, since
/// a typo there is what the user must see) and the host after the last `@` is `***`. A
/// password may hold `@ : / # % ? & = +`, spaces or any character, so nothing in it can
/// mark where it ends but the last `@`.
pub fn redact_unparsed(text: &str) -> String {
    let Some((_, host)) = text.rsplit_once('@') else {
        return text.to_owned();
    };
    match text.find("://") {
        Some(i) if i < text.len() - host.len() => format!("{}***@{host}", &text[..i + 3]),
        _ => format!("***@{host}"),
    }
}

/// Every line of `text` that holds an `@` after a `://` or a quote, redacted as
/// [`redact_unparsed`] does, from the scheme to the line's last `@`: for messages that
/// quote what the user wrote (a config file's line), where a password may hold spaces.
pub fn redact_all(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let Some(at) = line.rfind('@') else {
                return line.to_owned();
            };
            let start = line[..at]
                .find("://")
                .map(|i| i + 3)
                .or_else(|| line[..at].find(['"', '\'']).map(|i| i + 1));
            match start {
                Some(start) => format!("{}***{}", &line[..start], &line[at..]),
                None => redact_words(line),
            }
        })
        .collect()
}

/// Every word of `text` (split at white space and quotes) that holds an `@`, redacted.
fn redact_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains('@') {
            out.push_str(&redact(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || c == '"' || c == '\'' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Replaces the password of `scheme://user:password@host…` with `***`; in text that is
/// not such a URL (a typo: `redis//:pw@host`), everything before the last `@`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user = rest[..at].split(':').next().unwrap_or("");
    let secret = if rest[..at].contains(':') { ":***" } else { "" };
    let user = if secret.is_empty() && !user.is_empty() {
        "***"
    } else {
        user
    };
    format!("{}{user}{secret}{}", &url[..scheme_end], &rest[at..])
}
