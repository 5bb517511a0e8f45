//! proacd's operating-system layer: everything that talks to the Linux
//! kernel, behind a handful of functions the daemon calls.
//!
//! - [`link`]: interfaces ([`interface_info`]) and `AF_PACKET` sockets
//!   bound to one interface and one PPPoE ethertype ([`PacketSocket`]),
//!   filtered in the kernel by a classic BPF program. The discovery stage
//!   (ethertype 0x8863) always runs on them; the userspace data plane also
//!   reads and writes session frames (0x8864) through them.
//! - [`pppox`]: the kernel data plane: `AF_PPPOX`/`PX_PROTO_OE` session
//!   sockets ([`pppoe_connect`]), their PPP channels ([`ppp_channel_index`])
//!   and the PPP channel bridge that switches a PPPoE session into a
//!   PPPoL2TP session inside the kernel ([`bridge`], Linux ≥ 5.14); plus the
//!   framed socket pair of the userspace plane ([`framed_pair`]).
//!
//! Every `unsafe` block of proacd is in these files; each says why it is
//! sound. Errors are `io::Error`s whose text names the interface or the
//! step that failed.

pub mod link;
pub mod pppox;

pub use link::{interface_info, IfInfo, PacketSocket};
pub use pppox::{bridge, framed_pair, ppp_channel_index, pppoe_connect, pppoe_kernel_available, Bridge};
