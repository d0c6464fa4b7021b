//! The SSRF guard: which resolved addresses a probe may connect to.
//!
//! The guard runs at connect time on every address a name resolves to, on every redirect
//! hop, so neither DNS rebinding nor a redirect can reach an internal address. It is a
//! pure function of the address; the engine applies exemptions around it:
//!
//! - private, loopback, CGNAT, unique-local and reserved addresses are reached only by a
//!   check that sets `allow_private` *and* runs on a deployment whose operator allows
//!   private targets, or when the operator exempts a network that holds them;
//! - [sensitive](Refusal::is_sensitive) addresses (link-local, cloud instance metadata,
//!   the local-use NAT64 prefix) and the Lambda Runtime API endpoint are never reached
//!   through `allow_private`: only an operator exemption that names a network inside
//!   their range ([`SENSITIVE_RANGES`]) lets a probe through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The named ranges of sensitive addresses. An exemption reaches a sensitive address only
/// when the exempt network lies inside one of these (so `0.0.0.0/0` exempts nothing
/// sensitive, while `169.254.169.254/32` does exempt the metadata address).
pub const SENSITIVE_RANGES: [&str; 9] = [
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::/32",
    "64:ff9b:1::/48",
    "::ffff:169.254.0.0/112",
    "::169.254.0.0/112",
    "::ffff:0:169.254.0.0/112",
    "64:ff9b::169.254.0.0/112",
    "2002:a9fe::/32",
];

/// Whether `net` lies inside one of the [`SENSITIVE_RANGES`].
pub fn names_sensitive_range(net: &IpNet) -> bool {
    SENSITIVE_RANGES.iter().any(|range| {
        range
            .parse::<IpNet>()
            .is_ok_and(|range| range.contains(net))
    })
}

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (instance metadata among them), `fe80::/10`, `fd00:ec2::254`.
    LinkLocal,
    /// `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `fc00::/7`.
    UniqueLocal,
    /// Multicast and the limited broadcast address.
    Multicast,
    /// Documentation, benchmarking and other reserved ranges.
    Reserved,
    /// The local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215): whatever it translates to
    /// is a local choice, so every address in it is refused.
    LocalNat64,
}

impl Refusal {
    /// Short description used in `blocked` messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified address",
            Self::Loopback => "loopback address",
            Self::LinkLocal => "link-local address",
            Self::Private => "private address",
            Self::SharedCgnat => "carrier-grade NAT address",
            Self::UniqueLocal => "unique-local address",
            Self::Multicast => "multicast or broadcast address",
            Self::Reserved => "reserved address",
            Self::LocalNat64 => "local-use NAT64 address",
        }
    }

    /// Sensitive addresses stay refused when private targets are allowed; only an
    /// operator exemption naming their range lets a probe reach them.
    pub fn is_sensitive(self) -> bool {
        matches!(self, Self::LinkLocal | Self::LocalNat64)
    }
}

/// Classifies `ip`: `None` when it is public, otherwise why it is refused.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    let refusal = match (a, b, c) {
        (0, _, _) => Refusal::Unspecified,
        (127, _, _) => Refusal::Loopback,
        (169, 254, _) => Refusal::LinkLocal,
        (10, _, _) => Refusal::Private,
        (172, 16..=31, _) => Refusal::Private,
        (192, 168, _) => Refusal::Private,
        (100, 64..=127, _) => Refusal::SharedCgnat,
        (224..=239, _, _) => Refusal::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => Refusal::Multicast,
        // IETF protocol assignments, TEST-NET-1/2/3, benchmarking (198.18/15), 240/4.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Refusal::Reserved,
        (198, 18..=19, _) => Refusal::Reserved,
        (240..=255, _, _) => Refusal::Reserved,
        _ => return None,
    };
    Some(refusal)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if ip.is_unspecified() {
        return Some(Refusal::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Refusal::Loopback);
    }
    let seg = ip.segments();
    // The local-use NAT64 prefix may embed its IPv4 address anywhere: refuse all of it.
    if seg[..3] == [0x64, 0xff9b, 1] {
        return Some(Refusal::LocalNat64);
    }
    // Embedded IPv4: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::/96), 6to4 (2002::/16) and the SIIT-translated form (::ffff:0:a.b.c.d).
    // Judge them by the IPv4 address inside.
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    // fd00:ec2::/32: the EC2 instance metadata, DNS and time services over IPv6.
    if seg[..2] == [0xfd00, 0x0ec2] {
        return Some(Refusal::LinkLocal);
    }
    let refusal = match seg[0] {
        0xfe80..=0xfebf => Refusal::LinkLocal,
        // Deprecated site-local fec0::/10 is private in practice.
        0xfec0..=0xfeff => Refusal::Private,
        0xfc00..=0xfdff => Refusal::UniqueLocal,
        0xff00..=0xffff => Refusal::Multicast,
        // Documentation 2001:db8::/32 and 3fff::/20, benchmarking 2001:2::/48,
        // ORCHID and Teredo-adjacent IETF space 2001::/23 (Teredo itself, 2001::/32, too).
        0x2001 if seg[1] == 0x0db8 || seg[1] < 0x0200 => Refusal::Reserved,
        0x3fff if seg[1] < 0x1000 => Refusal::Reserved,
        // Discard-only 100::/64.
        0x0100 if seg[1..4] == [0, 0, 0] => Refusal::Reserved,
        // Anything else below 2000::/3 is not global unicast.
        s if s < 0x2000 => Refusal::Reserved,
        _ => return None,
    };
    Some(refusal)
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let tail = || {
        Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        )
    };
    match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(tail()),
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Option<Refusal> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
    }

    #[test]
    fn loopback_and_unspecified() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert_eq!(refused(ip), Some(Refusal::Loopback), "{ip}");
        }
        for ip in ["0.0.0.0", "0.1.2.3", "::"] {
            assert_eq!(refused(ip), Some(Refusal::Unspecified), "{ip}");
        }
    }

    #[test]
    fn link_local_and_instance_metadata() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
        ] {
            assert_eq!(refused(ip), Some(Refusal::LinkLocal), "{ip}");
        }
    }

    #[test]
    fn private_cgnat_unique_local() {
        for ip in ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1"] {
            assert_eq!(refused(ip), Some(Refusal::Private), "{ip}");
        }
        assert_eq!(refused("172.32.0.1"), None);
        assert_eq!(refused("100.64.0.1"), Some(Refusal::SharedCgnat));
        assert_eq!(refused("100.127.255.255"), Some(Refusal::SharedCgnat));
        assert_eq!(refused("100.128.0.1"), None);
        for ip in ["fc00::1", "fd12:3456::1"] {
            assert_eq!(refused(ip), Some(Refusal::UniqueLocal), "{ip}");
        }
    }

    #[test]
    fn multicast_broadcast_and_reserved() {
        for ip in ["224.0.0.1", "239.255.255.255", "255.255.255.255", "ff02::1"] {
            assert_eq!(refused(ip), Some(Refusal::Multicast), "{ip}");
        }
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "240.0.0.1",
            "2001:db8::1",
            "100::1",
        ] {
            assert_eq!(refused(ip), Some(Refusal::Reserved), "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_their_ipv4() {
        assert_eq!(refused("::ffff:127.0.0.1"), Some(Refusal::Loopback));
        assert_eq!(refused("::ffff:169.254.169.254"), Some(Refusal::LinkLocal));
        assert_eq!(refused("::ffff:10.1.2.3"), Some(Refusal::Private));
        assert_eq!(refused("::127.0.0.1"), Some(Refusal::Loopback));
        assert_eq!(refused("::ffff:0:192.168.0.1"), Some(Refusal::Private));
        assert_eq!(
            refused("64:ff9b::169.254.169.254"),
            Some(Refusal::LinkLocal)
        );
        assert_eq!(refused("64:ff9b:1::a00:1"), Some(Refusal::LocalNat64));
        assert_eq!(
            refused("64:ff9b:1:ffff::808:808"),
            Some(Refusal::LocalNat64)
        );
        assert_eq!(refused("fd00:ec2::23"), Some(Refusal::LinkLocal));
        assert!(Refusal::LinkLocal.is_sensitive() && !Refusal::Private.is_sensitive());
        assert!(names_sensitive_range(
            &"169.254.169.254/32".parse().unwrap()
        ));
        assert!(!names_sensitive_range(&"0.0.0.0/0".parse().unwrap()));
        assert!(!names_sensitive_range(&"169.0.0.0/8".parse().unwrap()));
        assert_eq!(refused("2002:7f00:1::"), Some(Refusal::Loopback));
        assert_eq!(refused("::ffff:8.8.8.8"), None);
        assert_eq!(refused("64:ff9b::808:808"), None);
    }
}
