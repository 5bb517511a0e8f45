//! Trace categories and masks.
//!
//! Every tunnel, session and PPP instance carries a `trace_flags` mask,
//! inherited from its profiles; the daemon's own (non-instance) trace uses the
//! system mask set by `-d` (see [`crate::log::set_system_mask`]). A trace line
//! is written only when the mask contains its category (see
//! [`crate::log::trace`]).
//!
//! The categories are those of the seeds: `protocol`, `fsm`, `api`, `avp`,
//! `avp_hide`, `avp_data`, `func`, `xprt`, `data`, `system`, `ppp`. In
//! configuration files and on the command line a mask is written as a decimal
//! number, a hex number (`0x1f`) or a comma-separated list of names
//! (`protocol,fsm`), see [`TraceFlags::parse`].

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// A set of trace categories (a bit mask; bit values are stable and appear in
/// configuration files as numbers).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct TraceFlags(pub u32);

/// The categories in bit order with their configuration names.
const NAMES: [(TraceFlags, &str); 11] = [
    (TraceFlags::PROTOCOL, "protocol"),
    (TraceFlags::FSM, "fsm"),
    (TraceFlags::API, "api"),
    (TraceFlags::AVP, "avp"),
    (TraceFlags::AVP_HIDE, "avp_hide"),
    (TraceFlags::AVP_DATA, "avp_data"),
    (TraceFlags::FUNC, "func"),
    (TraceFlags::XPRT, "xprt"),
    (TraceFlags::DATA, "data"),
    (TraceFlags::SYSTEM, "system"),
    (TraceFlags::PPP, "ppp"),
];

impl TraceFlags {
    /// Control protocol messages sent and received (bit 0, value 1).
    pub const PROTOCOL: Self = TraceFlags(1 << 0);
    /// State machine events and transitions (bit 1, value 2).
    pub const FSM: Self = TraceFlags(1 << 1);
    /// Management requests (CLI / IPC) (bit 2, value 4).
    pub const API: Self = TraceFlags(1 << 2);
    /// AVPs parsed and built (bit 3, value 8).
    pub const AVP: Self = TraceFlags(1 << 3);
    /// Hidden AVP encryption and decryption, RFC 2661 section 4.3 (bit 4, value 16).
    pub const AVP_HIDE: Self = TraceFlags(1 << 4);
    /// AVP contents as hex dumps (bit 5, value 32).
    pub const AVP_DATA: Self = TraceFlags(1 << 5);
    /// Function entry and exit (bit 6, value 64).
    pub const FUNC: Self = TraceFlags(1 << 6);
    /// Transport: reliable delivery, Ns/Nr, retransmission, Zlb (bit 7, value 128).
    pub const XPRT: Self = TraceFlags(1 << 7);
    /// Data plane packets and kernel requests (bit 8, value 256).
    pub const DATA: Self = TraceFlags(1 << 8);
    /// Daemon-wide events: config, sockets, signals (bit 9, value 512).
    pub const SYSTEM: Self = TraceFlags(1 << 9);
    /// PPP negotiation (bit 10, value 1024).
    pub const PPP: Self = TraceFlags(1 << 10);
    /// Every category above (value 0x7ff).
    pub const ALL: Self = TraceFlags((1 << 11) - 1);
    /// No category (value 0).
    pub const NONE: Self = TraceFlags(0);

    /// True when every category of `other` is in `self`. `contains(NONE)`
    /// is always true.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share at least one category.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no category is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The configuration name of a single category (`"fsm"`), or `None` if
    /// `self` is not exactly one known category.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(f, _)| *f == self).map(|&(_, n)| n)
    }

    /// Parses a decimal (`"12"`), hex (`"0x1f"`) or comma-separated list of
    /// category names (`"protocol,fsm"`, also `"all"` and `"none"`),
    /// case-insensitive, spaces around items ignored.
    ///
    /// Numbers may set bits beyond [`TraceFlags::ALL`]; they are kept (and
    /// ignored by every category test).
    ///
    /// # Errors
    /// A message naming the bad word, e.g. ``unknown trace category `fsn` ``
    /// or ``bad trace mask `0xzz` ``; an empty string or an empty list item
    /// is an error too.
    pub fn parse(s: &str) -> Result<TraceFlags, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty trace mask".to_string());
        }
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            return u32::from_str_radix(hex, 16).map(TraceFlags).map_err(|_| format!("bad trace mask `{s}`"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<u32>().map(TraceFlags).map_err(|_| format!("bad trace mask `{s}`"));
        }
        let mut flags = TraceFlags::NONE;
        for word in s.split(',') {
            let word = word.trim();
            let lower = word.to_ascii_lowercase();
            flags |= match lower.as_str() {
                "" => return Err(format!("empty item in trace mask `{s}`")),
                "all" => TraceFlags::ALL,
                "none" => TraceFlags::NONE,
                name => NAMES.iter().find(|(_, n)| *n == name).map(|&(f, _)| f).ok_or_else(|| format!("unknown trace category `{word}`"))?,
            };
        }
        Ok(flags)
    }
}

impl fmt::Display for TraceFlags {
    /// Writes the comma-separated names of the known categories in bit order
    /// (`protocol,fsm`), `none` for the empty set, and any unknown bits as a
    /// trailing hex item (`fsm,0x80000000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let unknown = self.0 & !TraceFlags::ALL.0;
        if unknown != 0 {
            if !first {
                f.write_str(",")?;
            }
            write!(f, "{unknown:#x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for TraceFlags {
    type Err = String;

    /// Same as [`TraceFlags::parse`].
    fn from_str(s: &str) -> Result<Self, String> {
        TraceFlags::parse(s)
    }
}

impl BitOr for TraceFlags {
    type Output = TraceFlags;

    /// Union of two masks.
    fn bitor(self, rhs: Self) -> Self {
        TraceFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TraceFlags {
    /// Adds the categories of `rhs`.
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TraceFlags {
    type Output = TraceFlags;

    /// Intersection of two masks.
    fn bitand(self, rhs: Self) -> Self {
        TraceFlags(self.0 & rhs.0)
    }
}

impl Not for TraceFlags {
    type Output = TraceFlags;

    /// The known categories not in `self` (result is within [`TraceFlags::ALL`]).
    fn not(self) -> Self {
        TraceFlags(!self.0 & TraceFlags::ALL.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_numbers() {
        assert_eq!(TraceFlags::parse("12"), Ok(TraceFlags::API | TraceFlags::AVP));
        assert_eq!(TraceFlags::parse("0x1f").map(|f| f.0), Ok(0x1f));
        assert_eq!(TraceFlags::parse("0X400"), Ok(TraceFlags::PPP));
        assert_eq!(TraceFlags::parse(" 0 "), Ok(TraceFlags::NONE));
        assert_eq!(TraceFlags::parse("4294967295").map(|f| f.0), Ok(u32::MAX));
        assert!(TraceFlags::parse("4294967296").is_err());
        assert_eq!(TraceFlags::parse("0xzz"), Err("bad trace mask `0xzz`".to_string()));
        assert!(TraceFlags::parse("0x").is_err());
        assert!(TraceFlags::parse("").is_err());
    }

    #[test]
    fn parse_names() {
        assert_eq!(TraceFlags::parse("protocol,fsm"), Ok(TraceFlags::PROTOCOL | TraceFlags::FSM));
        assert_eq!(TraceFlags::parse("PPP, Avp_Hide ,xprt"), Ok(TraceFlags::PPP | TraceFlags::AVP_HIDE | TraceFlags::XPRT));
        assert_eq!(TraceFlags::parse("ALL"), Ok(TraceFlags::ALL));
        assert_eq!(TraceFlags::parse("none"), Ok(TraceFlags::NONE));
        assert_eq!(TraceFlags::parse("fsm,fsn"), Err("unknown trace category `fsn`".to_string()));
        assert!(TraceFlags::parse("fsm,,api").is_err());
        assert!(TraceFlags::parse("fsm12").is_err());
    }

    #[test]
    fn every_name_round_trips() {
        for (flag, name) in NAMES {
            assert_eq!(TraceFlags::parse(name), Ok(flag));
            assert_eq!(flag.name(), Some(name));
            assert_eq!(flag.to_string(), name);
        }
        let all: u32 = NAMES.iter().map(|(f, _)| f.0).sum();
        assert_eq!(all, TraceFlags::ALL.0);
        assert_eq!(TraceFlags::parse(&TraceFlags::ALL.to_string()), Ok(TraceFlags::ALL));
    }

    #[test]
    fn display_lists_names_in_bit_order() {
        assert_eq!((TraceFlags::PPP | TraceFlags::PROTOCOL).to_string(), "protocol,ppp");
        assert_eq!(TraceFlags::NONE.to_string(), "none");
        assert_eq!(TraceFlags(0x8000_0002).to_string(), "fsm,0x80000000");
        assert_eq!(TraceFlags(0x1000).to_string(), "0x1000");
        assert_eq!(TraceFlags::FSM.name(), Some("fsm"));
        assert_eq!((TraceFlags::FSM | TraceFlags::API).name(), None);
    }

    #[test]
    fn contains_and_set_operations() {
        let f = TraceFlags::FSM | TraceFlags::AVP;
        assert!(f.contains(TraceFlags::FSM));
        assert!(!f.contains(TraceFlags::API));
        assert!(!f.contains(TraceFlags::FSM | TraceFlags::API));
        assert!(f.intersects(TraceFlags::FSM | TraceFlags::API));
        assert!(f.contains(TraceFlags::NONE));
        assert!(TraceFlags::ALL.contains(f));
        assert_eq!(f & TraceFlags::AVP, TraceFlags::AVP);
        assert_eq!(!TraceFlags::ALL, TraceFlags::NONE);
        assert!(!(!f).intersects(f));
        assert_eq!("api".parse::<TraceFlags>(), Ok(TraceFlags::API));
    }
}
