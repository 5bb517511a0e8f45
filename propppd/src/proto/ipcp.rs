//! IPCP, the IP Control Protocol (RFC 1332), with the DNS server addresses
//! of RFC 1877: the options policy for the generic automaton.
//!
//! IP-Address (RFC 1332 §3.3) works both ways: a server that has an address
//! for the peer Naks whatever the peer asked with that address; a client
//! that has none asks for 0.0.0.0 and takes the Nak. Primary/Secondary-DNS
//! (RFC 1877 §1.1, §1.3) are given to a peer that asks (Nak with ours) and
//! asked for by a client. IP-Compression-Protocol (§3.2, Van Jacobson) and
//! everything else are rejected.

use std::net::Ipv4Addr;

use super::frame::{protocol, ConfOption};
use super::fsm::{ConfigPolicy, Fsm, Verdict};

/// IPCP option types (RFC 1332 §3, RFC 1877 §1).
pub mod option {
    /// IP-Compression-Protocol (RFC 1332 §3.2); always rejected.
    pub const IP_COMPRESSION_PROTOCOL: u8 = 2;
    /// IP-Address, 4 octets (RFC 1332 §3.3).
    pub const IP_ADDRESS: u8 = 3;
    /// Primary-DNS-Server-Address, 4 octets (RFC 1877 §1.1).
    pub const PRIMARY_DNS: u8 = 129;
    /// Secondary-DNS-Server-Address, 4 octets (RFC 1877 §1.3).
    pub const SECONDARY_DNS: u8 = 131;
}

/// What IPCP asks for and gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpcpConfig {
    /// Our address; `None` asks the peer for one (sends 0.0.0.0).
    pub local_addr: Option<Ipv4Addr>,
    /// The address we assign to the peer; `None` accepts any non-zero
    /// address the peer asks for.
    pub peer_addr: Option<Ipv4Addr>,
    /// Primary and secondary DNS servers given to a peer that asks.
    pub dns: [Option<Ipv4Addr>; 2],
    /// Whether to ask the peer for DNS servers (client).
    pub request_dns: bool,
}

/// What the last IPCP negotiation agreed (valid once Opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpcpNegotiated {
    /// Our address, as acknowledged by the peer.
    pub local_addr: Option<Ipv4Addr>,
    /// The peer's address, as we acknowledged it.
    pub peer_addr: Option<Ipv4Addr>,
    /// DNS servers the peer gave us (primary, secondary).
    pub dns: [Option<Ipv4Addr>; 2],
}

/// The IPCP options policy.
#[derive(Debug, Clone)]
pub struct IpcpPolicy {
    config: IpcpConfig,
    want_addr: Option<Ipv4Addr>,
    want_dns: [Option<Ipv4Addr>; 2],
    negotiated: IpcpNegotiated,
}

/// IPCP: the generic automaton over [`IpcpPolicy`].
pub type Ipcp = Fsm<IpcpPolicy>;

const DNS_KINDS: [u8; 2] = [option::PRIMARY_DNS, option::SECONDARY_DNS];

fn addr_option(kind: u8, addr: Ipv4Addr) -> ConfOption {
    ConfOption::new(kind, addr.octets().to_vec())
}

fn addr_of(o: &ConfOption) -> Option<Ipv4Addr> {
    o.as_u32().map(Ipv4Addr::from)
}

impl IpcpPolicy {
    /// A policy for `config`.
    pub fn new(config: IpcpConfig) -> IpcpPolicy {
        let mut policy = IpcpPolicy { config, want_addr: None, want_dns: [None; 2], negotiated: IpcpNegotiated::default() };
        policy.reset();
        policy
    }

    /// What the last negotiation agreed.
    pub fn negotiated(&self) -> &IpcpNegotiated {
        &self.negotiated
    }

    /// Changes the address we assign to the peer (RFC 1332 §3.3); `None`
    /// accepts any non-zero address the peer asks for. Takes effect on the
    /// peer's next Configure-Request (the link sets it from the
    /// authentication verdict before IPCP starts).
    pub fn set_peer_addr(&mut self, addr: Option<Ipv4Addr>) {
        self.config.peer_addr = addr;
    }

    /// The address we assign to the peer, as configured.
    pub fn peer_addr(&self) -> Option<Ipv4Addr> {
        self.config.peer_addr
    }
}

impl ConfigPolicy for IpcpPolicy {
    fn protocol(&self) -> u16 {
        protocol::IPCP
    }

    fn reset(&mut self) {
        self.want_addr = Some(self.config.local_addr.unwrap_or(Ipv4Addr::UNSPECIFIED));
        let ask = if self.config.request_dns { Some(Ipv4Addr::UNSPECIFIED) } else { None };
        self.want_dns = [ask; 2];
        self.negotiated = IpcpNegotiated::default();
    }

    fn request_options(&mut self) -> Vec<ConfOption> {
        let mut options = Vec::new();
        if let Some(addr) = self.want_addr {
            options.push(addr_option(option::IP_ADDRESS, addr));
        }
        for (kind, want) in DNS_KINDS.iter().zip(self.want_dns) {
            if let Some(addr) = want {
                options.push(addr_option(*kind, addr));
            }
        }
        options
    }

    /// RFC 1332 §3.3, RFC 1877 §1: Nak the peer's address to the one we
    /// assign, Nak DNS requests with ours, reject the rest.
    fn judge_request(&mut self, options: &[ConfOption]) -> Verdict {
        let mut naks = Vec::new();
        let mut rejects = Vec::new();
        let mut peer_addr = None;
        for o in options {
            let Some(value) = addr_of(o) else {
                rejects.push(o.clone());
                continue;
            };
            match o.kind {
                option::IP_ADDRESS => match self.config.peer_addr {
                    Some(assigned) if assigned != value => naks.push(addr_option(option::IP_ADDRESS, assigned)),
                    Some(_) => peer_addr = Some(value),
                    None if value.is_unspecified() => rejects.push(o.clone()),
                    None => peer_addr = Some(value),
                },
                option::PRIMARY_DNS | option::SECONDARY_DNS => {
                    let index = usize::from(o.kind == option::SECONDARY_DNS);
                    match self.config.dns.get(index).copied().flatten() {
                        Some(ours) if ours != value => naks.push(addr_option(o.kind, ours)),
                        Some(_) => {}
                        None => rejects.push(o.clone()),
                    }
                }
                _ => rejects.push(o.clone()),
            }
        }
        if !rejects.is_empty() {
            Verdict::Reject(rejects)
        } else if !naks.is_empty() {
            Verdict::Nak(naks)
        } else {
            self.negotiated.peer_addr = peer_addr;
            Verdict::Ack
        }
    }

    fn apply_ack(&mut self, options: &[ConfOption]) {
        self.negotiated.local_addr = None;
        self.negotiated.dns = [None; 2];
        for o in options {
            let value = addr_of(o).filter(|a| !a.is_unspecified());
            match o.kind {
                option::IP_ADDRESS => self.negotiated.local_addr = value,
                option::PRIMARY_DNS => self.negotiated.dns[0] = value,
                option::SECONDARY_DNS => self.negotiated.dns[1] = value,
                _ => {}
            }
        }
    }

    fn apply_nak(&mut self, options: &[ConfOption]) {
        for o in options {
            let Some(value) = addr_of(o) else { continue };
            match o.kind {
                // A configured address is ours to keep; otherwise take the
                // peer's suggestion.
                option::IP_ADDRESS if self.config.local_addr.is_none() && self.want_addr.is_some() => self.want_addr = Some(value),
                option::PRIMARY_DNS if self.want_dns[0].is_some() => self.want_dns[0] = Some(value),
                option::SECONDARY_DNS if self.want_dns[1].is_some() => self.want_dns[1] = Some(value),
                _ => {}
            }
        }
    }

    fn apply_reject(&mut self, options: &[ConfOption]) {
        for o in options {
            match o.kind {
                option::IP_ADDRESS => self.want_addr = None,
                option::PRIMARY_DNS => self.want_dns[0] = None,
                option::SECONDARY_DNS => self.want_dns[1] = None,
                _ => {}
            }
        }
    }
}
