//! Tests of the address policy (kept apart: the rules read better without them).
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
fn nat64_addresses_are_judged_by_the_ipv4_address_they_embed() {
    let p = AddressPolicy::new(&[]);
    for a in ["64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::a00:1"] {
        assert!(refused(&p, a), "{a} should be refused");
    }
    assert!(!refused(&p, "64:ff9b::808:808"), "public IPv4 via NAT64");
    // The local-use prefix is still refused as a whole.
    assert!(refused(&p, "64:ff9b:1::808:808"));
    // Allowing the IPv4 network allows its NAT64 form too.
    let p = AddressPolicy::new(&["127.0.0.0/8".parse().unwrap()]);
    assert!(!refused(&p, "64:ff9b::7f00:1"));
    assert!(refused(&p, "64:ff9b::a9fe:a9fe"));
}

#[test]
fn ipv4_compatible_addresses_are_judged_by_the_ipv4_address_they_embed() {
    let p = AddressPolicy::new(&[]);
    for a in [
        "::127.0.0.1",
        "::169.254.169.254",
        "::10.0.0.1",
        "::0.0.0.2",
    ] {
        assert!(refused(&p, a), "{a} should be refused");
    }
    assert!(!refused(&p, "::8.8.8.8"));
    // `::` and `::1` keep their own entries, whatever IPv4 network is allowed.
    let p = AddressPolicy::new(&["0.0.0.0/8".parse().unwrap()]);
    assert_eq!(
        p.check("::".parse().unwrap()).unwrap_err().what,
        "unspecified"
    );
    assert_eq!(
        p.check("::1".parse().unwrap()).unwrap_err().what,
        "loopback"
    );
    assert!(!refused(&p, "::0.0.0.2"));
}

#[test]
fn ipv4_mapped_addresses_are_judged_by_the_ipv4_address_they_embed() {
    let p = AddressPolicy::new(&[]);
    assert!(refused(&p, "::ffff:169.254.169.254"));
    assert!(!refused(&p, "::ffff:8.8.8.8"));
}

#[test]
fn six_to_four_is_refused_and_an_allowed_one_still_needs_an_allowed_ipv4() {
    let p = AddressPolicy::new(&[]);
    assert_eq!(
        p.check("2002:808:808::1".parse().unwrap())
            .unwrap_err()
            .what,
        "6to4"
    );
    let p = AddressPolicy::new(&["2002::/16".parse().unwrap()]);
    assert!(!refused(&p, "2002:808:808::1"));
    let e = p.check("2002:a9fe:a9fe::1".parse().unwrap()).unwrap_err();
    assert_eq!(e.what, "link-local");
}

#[test]
fn deprecated_site_local_and_other_reserved_ipv6_are_refused() {
    let p = AddressPolicy::new(&[]);
    assert_eq!(
        p.check("fec0::1".parse().unwrap()).unwrap_err().what,
        "site-local (deprecated, RFC 3879)"
    );
    // IPv4-translated (SIIT, RFC 2765) and the rest of the IETF-reserved ::/8.
    assert!(refused(&p, "::ffff:0:7f00:1"));
    assert!(refused(&p, "::1:0:0:1"));
}

#[test]
fn refusal_of_an_embedded_address_names_both_addresses_and_why() {
    let e = AddressPolicy::new(&[])
        .check("64:ff9b::7f00:1".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "64:ff9b::7f00:1 (the NAT64 form, 64:ff9b::/96, of 127.0.0.1: in 127.0.0.0/8, \
         loopback)"
    );
    let e = AddressPolicy::new(&[])
        .check("::ffff:10.0.0.1".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "::ffff:10.0.0.1 (the IPv4-mapped form of 10.0.0.1: in 10.0.0.0/8, private (RFC 1918))"
    );
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
