//! The operating-system side of propppd's data path: kernel PPP units over
//! `/dev/ppp` ([`ppp`]), TUN devices for the userspace path ([`tun`]) and
//! interface addresses and state through rtnetlink ([`netif`]).

pub mod netif;
pub mod ppp;
pub mod tun;
