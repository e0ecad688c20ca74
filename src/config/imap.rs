//! `IMAP_URL`: where the IMAP poller connects.

/// Where the IMAP poller connects, from `IMAP_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapTarget {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
}

impl ImapTarget {
    /// `imaps://user:pass@host[:993]/MAILBOX`, or `imap://...` (plain, loopback only).
    pub fn parse(raw: &str) -> Result<ImapTarget, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => return Err(format!("scheme '{other}' is not imap or imaps")),
        };
        let host = url.host_str().ok_or("no host")?.to_owned();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback {
            return Err("plain imap:// is only allowed to a loopback address; use imaps:// for a remote server".into());
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|e| e.to_string())
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err("no user name (imaps://USER:PASSWORD@host/INBOX)".into());
        }
        let password = decode(url.password().unwrap_or_default())?;
        let mailbox = decode(url.path().trim_start_matches('/'))?;
        Ok(ImapTarget {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password,
            mailbox: if mailbox.is_empty() {
                "INBOX".into()
            } else {
                mailbox
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imap_urls() {
        let t = ImapTarget::parse("imaps://priv%40x.org:p%3Ass@mail.example.org/Privacy").unwrap();
        assert_eq!(
            (
                t.tls,
                t.port,
                t.user.as_str(),
                t.password.as_str(),
                t.mailbox.as_str()
            ),
            (true, 993, "priv@x.org", "p:ss", "Privacy")
        );
        let p = ImapTarget::parse("imap://u:p@127.0.0.1:1430").unwrap();
        assert_eq!((p.tls, p.port, p.mailbox.as_str()), (false, 1430, "INBOX"));
        assert!(ImapTarget::parse("imap://u:p@mail.example.org/INBOX").is_err());
        assert!(ImapTarget::parse("pop3://u:p@127.0.0.1").is_err());
        assert!(ImapTarget::parse("imaps://mail.example.org").is_err());
    }
}
