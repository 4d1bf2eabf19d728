//! Which addresses validation may connect to. Validation requests are made on behalf of whoever
//! controls a name's DNS, so without this policy an ACME client could make the server probe its own
//! internal network (SSRF). Special-purpose ranges are refused unless the operator allows them.
//!
//! Some IPv6 addresses stand for an IPv4 address (see [`Embedding`]): on a NAT64 network
//! `64:ff9b::a9fe:a9fe` reaches the cloud metadata address 169.254.169.254. Those are judged by the
//! IPv4 address they embed — `allowed_networks` is matched against that IPv4 address too — so no
//! IPv6 spelling reaches a network its IPv4 spelling may not.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
        net: "fec0::/10",
        what: "site-local (deprecated, RFC 3879)",
    },
    // What is left of the IETF-reserved ::/8 once `::`, `::1` and the IPv4-mapped and
    // IPv4-compatible forms are taken out, e.g. IPv4-translated `::ffff:0:a.b.c.d` (SIIT): nothing
    // public lives there.
    Special {
        net: "::/8",
        what: "reserved by the IETF",
    },
    Special {
        net: "ff00::/8",
        what: "multicast",
    },
];

/// An IPv6 address that stands for an IPv4 address, so the policy judges that IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (RFC 4291): the IPv4 host itself, through a dual-stack socket.
    Mapped,
    /// `::a.b.c.d` (RFC 4291, deprecated): still routed to the IPv4 host by some stacks.
    Compatible,
    /// `64:ff9b::a.b.c.d` (RFC 6052): a NAT64 gateway forwards it to the IPv4 host.
    Nat64,
    /// `2002:AABB:CCDD::/48` (RFC 3056): a 6to4 relay tunnels it to the IPv4 host.
    SixToFour,
}

impl Embedding {
    /// How the form is named in a refusal.
    fn describe(self) -> &'static str {
        match self {
            Self::Mapped => "the IPv4-mapped form",
            Self::Compatible => "the IPv4-compatible form",
            Self::Nat64 => "the NAT64 form, 64:ff9b::/96,",
            Self::SixToFour => "the 6to4 form",
        }
    }
}

/// The IPv4 address an IPv6 address stands for, and how it embeds it. `::` and `::1` embed
/// nothing: they are the unspecified and loopback addresses of IPv6 itself.
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<(Ipv4Addr, Embedding)> {
    let seg = v6.segments();
    let o = v6.octets();
    let last32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((last32, Embedding::Mapped)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some((last32, Embedding::Compatible)),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((last32, Embedding::Nat64)),
        [0x2002, ..] => Some((Ipv4Addr::new(o[2], o[3], o[4], o[5]), Embedding::SixToFour)),
        _ => None,
    }
}

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
    /// The address judged: for an IPv6 address embedding an IPv4 address, that IPv4 address.
    pub addr: IpAddr,
    /// The refused network `addr` lies in.
    pub net: IpNet,
    /// What that network is, as clients are told (e.g. "loopback").
    pub what: &'static str,
    /// The IPv6 address as resolved, when `addr` is the IPv4 address it embeds.
    pub embedded_in: Option<(Ipv6Addr, Embedding)>,
}

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.embedded_in {
            Some((v6, how)) => write!(
                f,
                "{v6} ({} of {}: in {}, {})",
                how.describe(),
                self.addr,
                self.net,
                self.what
            ),
            None => write!(f, "{} (in {}, {})", self.addr, self.net, self.what),
        }
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

    /// `Ok` when validation may connect to `addr`. An IPv6 address embedding an IPv4 address (see
    /// [`embedded_ipv4`]) is judged as that IPv4 address, so `::ffff:127.0.0.1` and
    /// `64:ff9b::7f00:1` are loopback. A 6to4 address is refused as such unless its network is
    /// allowed, and then its IPv4 address must pass as well.
    pub fn check(&self, addr: IpAddr) -> Result<(), RefusedAddress> {
        let IpAddr::V6(v6) = addr else {
            return self.check_one(addr);
        };
        match embedded_ipv4(v6) {
            None => self.check_one(addr),
            Some((v4, how)) => {
                if how == Embedding::SixToFour {
                    self.check_one(addr)?;
                }
                self.check_one(IpAddr::V4(v4)).map_err(|r| RefusedAddress {
                    embedded_in: Some((v6, how)),
                    ..r
                })
            }
        }
    }

    /// Judges `addr` as it is, against the allowed and the refused networks.
    fn check_one(&self, addr: IpAddr) -> Result<(), RefusedAddress> {
        if self.allowed.iter().any(|n| n.contains(&addr)) {
            return Ok(());
        }
        match self.refused.iter().find(|(n, _)| n.contains(&addr)) {
            Some((net, what)) => Err(RefusedAddress {
                addr,
                net: *net,
                what,
                embedded_in: None,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "address_policy_tests.rs"]
mod tests;
