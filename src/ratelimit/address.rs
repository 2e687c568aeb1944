//! Who a request comes from, as an address: the peer, or the client a trusted proxy names; and the address a
//! budget is kept for (a whole IPv6 /64, which one host can hold).

use std::net::IpAddr;

/// One bucket per IPv4 address and per IPv6 /64: a host is handed a whole /64, so single IPv6 addresses would
/// give it as many buckets as it likes.
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// An address range, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address or range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a bad prefix"))?,
        };
        Ok(Self { net, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u32),
            IpAddr::V6(v6) => (u128::from(v6), 128u32),
        };
        let ((net, len), (addr, alen)) = (bits(self.net), bits(ip));
        if len != alen {
            return false;
        }
        let shift = len - u32::from(self.prefix);
        shift >= len || (net >> shift) == (addr >> shift)
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy (the left part of the header is the client's to forge).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|h| h.rsplit(','))
        .map_while(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_s_whole_ipv6_64_is_one_budget_and_ipv4_addresses_are_their_own() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            bucket_key(ip("2001:db8::1")),
            bucket_key(ip("2001:db8::ffff:1"))
        );
        assert_ne!(
            bucket_key(ip("2001:db8::1")),
            bucket_key(ip("2001:db8:0:1::1"))
        );
        assert_ne!(bucket_key(ip("10.0.0.1")), bucket_key(ip("10.0.0.2")));
    }

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("6.6.6.6, 1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("8.8.8.8"), Some("1.2.3.4"), &trusted),
            ip("8.8.8.8")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("1.2.3.4, 10.2.2.2"), &trusted),
            ip("1.2.3.4")
        );
    }
}
