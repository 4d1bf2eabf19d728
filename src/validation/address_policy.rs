//! Which addresses validation may connect to. Validation requests are made on behalf of whoever
//! controls a name's DNS, so without this policy an ACME client could make the server probe its own
//! internal network (SSRF). Special-purpose ranges are refused unless the operator allows them.

use ipnet::IpNet;
use std::net::IpAddr;

/// A special-purpose range refused by default, with the reason shown to clients.
struct Special {
    net: &'static str,
    what: &'static str,
}

/// IANA special-purpose registries (IPv4 and IPv6), plus multicast and the reserved class E space.
const SPECIAL: &[Special] = &[
    Special {
        net: "0.0.0.0/8",
        what: "\"this network\"/unspecified",
    },
    Special {
        net: "10.0.0.0/8",
        what: "private (RFC 1918)",
    },
    Special {
        net: "100.64.0.0/10",
        what: "shared carrier-grade NAT (RFC 6598)",
    },
    Special {
        net: "127.0.0.0/8",
        what: "loopback",
    },
    Special {
        net: "169.254.0.0/16",
        what: "link-local",
    },
    Special {
        net: "172.16.0.0/12",
        what: "private (RFC 1918)",
    },
    Special {
        net: "192.0.0.0/24",
        what: "IETF protocol assignments",
    },
    Special {
        net: "192.0.2.0/24",
        what: "documentation (TEST-NET-1)",
    },
    Special {
        net: "192.31.196.0/24",
        what: "AS112",
    },
    Special {
        net: "192.52.193.0/24",
        what: "AMT",
    },
    Special {
        net: "192.88.99.0/24",
        what: "6to4 relay anycast",
    },
    Special {
        net: "192.168.0.0/16",
        what: "private (RFC 1918)",
    },
    Special {
        net: "192.175.48.0/24",
        what: "AS112 direct delegation",
    },
    Special {
        net: "198.18.0.0/15",
        what: "benchmarking (RFC 2544)",
    },
    Special {
        net: "198.51.100.0/24",
        what: "documentation (TEST-NET-2)",
    },
    Special {
        net: "203.0.113.0/24",
        what: "documentation (TEST-NET-3)",
    },
    Special {
        net: "224.0.0.0/4",
        what: "multicast",
    },
    Special {
        net: "240.0.0.0/4",
        what: "reserved (class E)",
    },
    Special {
        net: "255.255.255.255/32",
        what: "limited broadcast",
    },
    Special {
        net: "::/128",
        what: "unspecified",
    },
    Special {
        net: "::1/128",
        what: "loopback",
    },
    Special {
        net: "::ffff:0:0/96",
        what: "IPv4-mapped",
    },
    Special {
        net: "64:ff9b:1::/48",
        what: "local-use IPv4/IPv6 translation",
    },
    Special {
        net: "100::/64",
        what: "discard-only",
    },
    Special {
        net: "2001::/23",
        what: "IETF protocol assignments",
    },
    Special {
        net: "2001:db8::/32",
        what: "documentation",
    },
    Special {
        net: "2002::/16",
        what: "6to4",
    },
    Special {
        net: "3fff::/20",
        what: "documentation",
    },
    Special {
        net: "5f00::/16",
        what: "segment routing (SRv6) SIDs",
    },
    Special {
        net: "fc00::/7",
        what: "unique local (private)",
    },
    Special {
        net: "fe80::/10",
        what: "link-local",
    },
    Special {
        net: "ff00::/8",
        what: "multicast",
    },
];

/// The address policy of one validator: special-purpose ranges are refused unless they lie inside
/// one of the operator's `allowed_networks`.
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    allowed: Vec<IpNet>,
    refused: Vec<(IpNet, &'static str)>,
}

/// Why an address may not be connected to: the address, the refused range and what that range is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAddress {
    pub addr: IpAddr,
    pub net: IpNet,
    pub what: &'static str,
}

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (in {}, {})", self.addr, self.net, self.what)
    }
}

impl AddressPolicy {
    /// The default special-purpose ranges minus `allowed`.
    pub fn new(allowed: &[IpNet]) -> Self {
        let refused = SPECIAL
            .iter()
            .map(|s| (s.net.parse().expect("static network"), s.what))
            .collect();
        Self {
            allowed: allowed.to_vec(),
            refused,
        }
    }

    /// `Ok` when validation may connect to `addr`. An IPv4-mapped IPv6 address is judged as the IPv4
    /// address it stands for, so `::ffff:127.0.0.1` is loopback.
    pub fn check(&self, addr: IpAddr) -> Result<(), RefusedAddress> {
        let addr = canonical(addr);
        if self.allowed.iter().any(|n| n.contains(&addr)) {
            return Ok(());
        }
        match self.refused.iter().find(|(n, _)| n.contains(&addr)) {
            Some((net, what)) => Err(RefusedAddress {
                addr,
                net: *net,
                what,
            }),
            None => Ok(()),
        }
    }
}

/// IPv4-mapped IPv6 addresses become IPv4; everything else is unchanged.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &AddressPolicy, a: &str) -> bool {
        p.check(a.parse().unwrap()).is_err()
    }

    #[test]
    fn special_ranges_are_refused_by_default() {
        let p = AddressPolicy::new(&[]);
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(refused(&p, a), "{a} should be refused");
        }
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "100.128.0.1",
        ] {
            assert!(!refused(&p, a), "{a} should be allowed");
        }
    }

    #[test]
    fn allowed_networks_override() {
        let p = AddressPolicy::new(&["127.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        assert!(!refused(&p, "127.0.0.1"));
        assert!(!refused(&p, "::ffff:127.0.0.1"));
        assert!(!refused(&p, "fd12::1"));
        assert!(refused(&p, "10.0.0.1"));
        assert!(refused(&p, "::1"));
    }

    #[test]
    fn refusal_names_address_and_range() {
        let e = AddressPolicy::new(&[])
            .check("10.9.8.7".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.9.8.7 (in 10.0.0.0/8, private (RFC 1918))"
        );
    }
}
