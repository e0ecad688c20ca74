//! The Discord settings that say where Discord is and which shards this process runs.

/// `DISCORD_SHARDS=FIRST-LAST/TOTAL`: the shards (both ends included) this process runs out of
/// TOTAL, so several processes can split one bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl ShardRange {
    pub fn parse(raw: &str) -> Result<ShardRange, String> {
        let bad = || format!("'{raw}' is not FIRST-LAST/TOTAL, like 0-1/4 (shards 0 and 1 of 4)");
        let (range, total) = raw.split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let n = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let (first, last, total) = (n(first)?, n(last)?, n(total)?);
        if total == 0 || total > 4_096 || first > last || last >= total {
            return Err(format!(
                "'{raw}' is not a range inside 0..TOTAL (TOTAL from 1 to 4096, FIRST <= LAST < TOTAL)"
            ));
        }
        Ok(ShardRange { first, last, total })
    }
}

/// A base URL for Discord's REST API (`http(s)://...`) or gateway (`ws(s)://...`): the secure
/// scheme anywhere, the plain one only on this machine, since the bot token travels with it.
pub fn endpoint(raw: &str, secure: &str, plain: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("'{raw}' is not a URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        s if s == secure => {}
        s if s == plain && loopback => {}
        s if s == plain => {
            return Err(format!(
                "{plain}:// is only allowed to a loopback address (the bot token travels with every call); use {secure}://"
            ));
        }
        other => return Err(format!("scheme '{other}' is not {secure} or {plain}")),
    }
    if url.host().is_none() {
        return Err(format!("'{raw}' has no host"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges_are_inclusive_and_inside_the_total() {
        assert_eq!(
            ShardRange::parse("0-1/4"),
            Ok(ShardRange {
                first: 0,
                last: 1,
                total: 4
            })
        );
        assert_eq!(
            ShardRange::parse("2/3"),
            Ok(ShardRange {
                first: 2,
                last: 2,
                total: 3
            })
        );
        for bad in ["1-0/2", "0-2/2", "0-0/0", "a-b/c", "0-1", "0-1/99999"] {
            assert!(ShardRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_endpoints_only_on_loopback() {
        assert!(endpoint("http://127.0.0.1:9000", "https", "http").is_ok());
        assert!(endpoint("https://proxy.example.org/", "https", "http").is_ok());
        assert!(endpoint("http://proxy.example.org", "https", "http").is_err());
        assert!(endpoint("ws://localhost:9001", "wss", "ws").is_ok());
        assert!(endpoint("ftp://127.0.0.1", "https", "http").is_err());
    }
}
