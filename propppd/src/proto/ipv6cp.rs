//! IPv6CP, the IPv6 Control Protocol (RFC 5072): the options policy for
//! the generic automaton. The only option negotiated is
//! Interface-Identifier (§4.1): a random non-zero 64-bit value from the
//! injected RNG; a peer whose identifier is zero or equal to ours gets a
//! Nak with a different one. IPv6-Compression-Protocol (§4.2) and anything
//! else are rejected.

use super::frame::{protocol, ConfOption};
use super::fsm::{ConfigPolicy, Fsm, Rng, Verdict};

/// IPv6CP option types (RFC 5072 §4).
pub mod option {
    /// Interface-Identifier, 8 octets (RFC 5072 §4.1).
    pub const INTERFACE_IDENTIFIER: u8 = 1;
    /// IPv6-Compression-Protocol (RFC 5072 §4.2); always rejected.
    pub const IPV6_COMPRESSION_PROTOCOL: u8 = 2;
}

/// What the last IPv6CP negotiation agreed (valid once Opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv6cpNegotiated {
    /// Our interface identifier, as acknowledged (0 when not negotiated).
    pub local_id: u64,
    /// The peer's interface identifier, as we acknowledged it.
    pub peer_id: u64,
}

/// The IPv6CP options policy.
pub struct Ipv6cpPolicy {
    fixed_id: Option<u64>,
    rng: Box<dyn Rng>,
    want_id: Option<u64>,
    negotiated: Ipv6cpNegotiated,
}

impl std::fmt::Debug for Ipv6cpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipv6cpPolicy").field("want_id", &self.want_id).field("negotiated", &self.negotiated).finish_non_exhaustive()
    }
}

/// IPv6CP: the generic automaton over [`Ipv6cpPolicy`].
pub type Ipv6cp = Fsm<Ipv6cpPolicy>;

fn id_option(id: u64) -> ConfOption {
    ConfOption::new(option::INTERFACE_IDENTIFIER, id.to_be_bytes().to_vec())
}

impl Ipv6cpPolicy {
    /// A policy using `fixed_id` as our identifier when given (and
    /// non-zero), otherwise random ones from `rng`.
    pub fn new(fixed_id: Option<u64>, rng: Box<dyn Rng>) -> Ipv6cpPolicy {
        // The automaton calls reset(), which draws the identifier, before
        // its first request.
        Ipv6cpPolicy { fixed_id: fixed_id.filter(|i| *i != 0), rng, want_id: None, negotiated: Ipv6cpNegotiated::default() }
    }

    /// What the last negotiation agreed.
    pub fn negotiated(&self) -> &Ipv6cpNegotiated {
        &self.negotiated
    }

    fn random_id(&mut self, avoid: &[u64]) -> u64 {
        loop {
            let id = self.rng.next_u64();
            if id != 0 && !avoid.contains(&id) {
                return id;
            }
        }
    }
}

impl ConfigPolicy for Ipv6cpPolicy {
    fn protocol(&self) -> u16 {
        protocol::IPV6CP
    }

    fn reset(&mut self) {
        self.want_id = Some(match self.fixed_id {
            Some(id) => id,
            None => self.random_id(&[]),
        });
        self.negotiated = Ipv6cpNegotiated::default();
    }

    fn request_options(&mut self) -> Vec<ConfOption> {
        self.want_id.map(id_option).into_iter().collect()
    }

    /// RFC 5072 §4.1: Nak a zero or colliding identifier with a fresh one.
    fn judge_request(&mut self, options: &[ConfOption]) -> Verdict {
        let mut naks = Vec::new();
        let mut rejects = Vec::new();
        let mut peer_id = 0;
        for o in options {
            let [a, b, c, d, e, f, g, h] = *o.data.as_slice() else {
                rejects.push(o.clone());
                continue;
            };
            if o.kind != option::INTERFACE_IDENTIFIER {
                rejects.push(o.clone());
                continue;
            }
            let theirs = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
            let ours = self.want_id.unwrap_or(0);
            if theirs == 0 || theirs == ours {
                let suggestion = self.random_id(&[ours, theirs]);
                naks.push(id_option(suggestion));
            } else {
                peer_id = theirs;
            }
        }
        if !rejects.is_empty() {
            Verdict::Reject(rejects)
        } else if !naks.is_empty() {
            Verdict::Nak(naks)
        } else {
            self.negotiated.peer_id = peer_id;
            Verdict::Ack
        }
    }

    fn apply_ack(&mut self, options: &[ConfOption]) {
        self.negotiated.local_id = options
            .iter()
            .find(|o| o.kind == option::INTERFACE_IDENTIFIER)
            .and_then(|o| <[u8; 8]>::try_from(o.data.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
    }

    /// RFC 5072 §4.1: take the suggested identifier unless it is zero or the
    /// peer's own; then pick a fresh random one.
    fn apply_nak(&mut self, options: &[ConfOption]) {
        for o in options.iter().filter(|o| o.kind == option::INTERFACE_IDENTIFIER) {
            let suggested = <[u8; 8]>::try_from(o.data.as_slice()).map_or(0, u64::from_be_bytes);
            let peer = self.negotiated.peer_id;
            let old = self.want_id.unwrap_or(0);
            self.want_id = Some(if suggested != 0 && suggested != peer { suggested } else { self.random_id(&[peer, old]) });
        }
    }

    fn apply_reject(&mut self, options: &[ConfOption]) {
        if options.iter().any(|o| o.kind == option::INTERFACE_IDENTIFIER) {
            self.want_id = None;
        }
    }
}
