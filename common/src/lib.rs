//! Shared plumbing of the suite (prol2tpd, propppd, proacd).
//!
//! Every daemon is one process, one thread and one `polling` loop; this crate
//! holds what they share: the event loop and its timer wheel ([`evloop`],
//! [`timer`]), signals through a signal fd ([`signal`]), daemonising and pid
//! files ([`daemon`]), logging to syslog or the terminal with per-instance
//! trace masks ([`log`], [`trace`](mod@trace)), INI configuration with `file:line`
//! errors ([`ini`]), the IPC message set daemons and CLIs speak over unix
//! datagram sockets ([`ipc`]), what the command-line tools share ([`cli`])
//! and a small seeded random source ([`rng`]).

#![warn(missing_docs)]

pub mod channel;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod events;
pub mod evloop;
pub mod ini;
pub mod ipc;
pub mod log;
pub mod netlink;
pub mod rng;
pub mod scripts;
pub mod signal;
pub mod timer;
pub mod trace;

pub use daemon::{daemonize, PidFile};
pub use evloop::{EventLoop, Interest, Ready};
pub use log::Level;
pub use rng::Rng;
pub use signal::{Signal, Signals};
pub use timer::TimerWheel;
pub use trace::TraceFlags;
