//! The reliable control channel: Ns/Nr sequencing, windows, retransmission
//! with back-off, ZLB acknowledgements and HELLO keepalive timing.
//!
//! This implements the reliable delivery of control messages of RFC 2661
//! §5.8 (with the optional slow start of Appendix A) and RFC 3931 §4.2, which
//! uses the same scheme. It is a sans-IO component in the style of
//! quinn-proto: it never reads the clock and never touches a socket. The
//! tunnel feeds it with `now` and received sequence numbers and drains what
//! it produces:
//!
//! - [`ReliableChannel::send`] queues an encoded control message (its AVPs,
//!   no header). The message gets the next `Ns` once it fits in the peer's
//!   receive window.
//! - [`ReliableChannel::on_receive`] takes the `Ns`/`Nr` of every received
//!   control packet, with its AVP bytes (or `None` for a ZLB or an L2TPv3
//!   explicit ACK). It processes the acknowledgement in `Nr`, buffers
//!   messages that arrive out of order within our receive window and
//!   releases them in order through [`ReliableChannel::poll_delivered`].
//! - [`ReliableChannel::poll_transmit`] yields the packets to put on the
//!   wire: first (re)transmissions, each carrying the current `Nr`
//!   (piggybacked acknowledgement), then a ZLB when an acknowledgement has
//!   waited `ack_delay` with nothing to ride on.
//! - [`ReliableChannel::poll_timeout`] / [`ReliableChannel::handle_timeout`]
//!   drive retransmission, delayed acknowledgement and HELLO timing. An
//!   early or repeated wake-up is a no-op.
//!
//! Sequence numbers are 16-bit and wrap; "a is before b" means that `a` is
//! at most 32767 behind `b` (RFC 2661 §5.8), see [`seq_lt`]. Windows are
//! therefore capped at [`MAX_WINDOW`] so that every outstanding number stays
//! unambiguous.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Receive window assumed for a peer that sent no Receive Window Size AVP
/// (RFC 2661 §4.4.3 and §5.8, RFC 3931 §5.4.3): 4 messages.
pub const DEFAULT_PEER_WINDOW: u16 = 4;

/// Largest usable window, in messages: half the 16-bit sequence space minus
/// one, so that "before" and "after" stay unambiguous (RFC 2661 §5.8).
pub const MAX_WINDOW: u16 = 32767;

/// Longest timer this component arms (retransmission, ack delay, HELLO):
/// longer configured values are clamped to it. 24 hours.
pub const MAX_TIMER: Duration = Duration::from_secs(24 * 3600);

/// True when sequence number `a` comes strictly before `b` in the 16-bit
/// modular space: `b` is 1..=32767 ahead of `a` (RFC 2661 §5.8).
pub fn seq_lt(a: u16, b: u16) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d < 0x8000
}

/// True when `a` is `b` or comes before it (see [`seq_lt`]).
pub fn seq_le(a: u16, b: u16) -> bool {
    a == b || seq_lt(a, b)
}

/// Parameters of one reliable control channel (RFC 2661 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReliableConfig {
    /// Our receive window, in messages: how many messages we buffer and
    /// accept ahead of the next expected `Ns`; advertised to the peer in the
    /// Receive Window Size AVP. Range 1..=32767 (0 is taken as 1, larger
    /// values as [`MAX_WINDOW`]). Default 10.
    pub rx_window_size: u16,
    /// The peer's receive window, in messages: at most this many of our
    /// messages are outstanding (unacknowledged) at once. Default 4, the
    /// value RFC 2661 §5.8 assumes without the AVP; normally set later with
    /// [`ReliableChannel::set_peer_window`]. Same range as `rx_window_size`.
    pub peer_rx_window_size: u16,
    /// Initial retransmission timeout. Default 1 s (RFC 2661 §5.8).
    pub retry_timeout: Duration,
    /// Cap of the exponential back-off of the retransmission timeout.
    /// Default 8 s (RFC 2661 §5.8 recommends a cap of no less than 8 s).
    /// Values below `retry_timeout` are raised to it.
    pub max_retry_timeout: Duration,
    /// Retransmissions of one message without acknowledgement after which
    /// the channel is dead (once the last one has also timed out).
    /// Default 5 (RFC 2661 §5.8).
    pub max_retries: u32,
    /// How long a received message waits for an outgoing message to carry
    /// its acknowledgement before a ZLB is sent. Default 100 ms (RFC 2661
    /// §5.8 only asks that acknowledgements are not withheld; a quarter of
    /// the retransmission timeout or less keeps the peer from
    /// retransmitting).
    pub ack_delay: Duration,
    /// Time without anything received from the peer after which a HELLO is
    /// due (RFC 2661 §6.5; RFC 3931 §4.4 keepalive); `None` disables it.
    /// Default 60 s.
    pub hello_interval: Option<Duration>,
    /// Use the slow start and congestion avoidance of RFC 2661 Appendix A:
    /// the number of outstanding messages starts at 1 and grows with each
    /// acknowledgement up to the peer's window; a retransmission halves the
    /// threshold and restarts at 1. Default false (window = peer's window).
    pub slow_start: bool,
}

impl Default for ReliableConfig {
    fn default() -> Self {
        ReliableConfig {
            rx_window_size: 10,
            peer_rx_window_size: DEFAULT_PEER_WINDOW,
            retry_timeout: Duration::from_secs(1),
            max_retry_timeout: Duration::from_secs(8),
            max_retries: 5,
            ack_delay: Duration::from_millis(100),
            hello_interval: Some(Duration::from_secs(60)),
            slow_start: false,
        }
    }
}

/// Clamps a window size to 1..=[`MAX_WINDOW`]. RFC 2661 §5.8 makes a
/// Receive Window Size of 0 invalid; it is treated as 1 here so a buggy
/// peer still gets a working (if slow) channel.
fn clamp_window(w: u16) -> u16 {
    w.clamp(1, MAX_WINDOW)
}

/// What [`ReliableChannel::on_receive`] did with a received control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxVerdict {
    /// The next expected message: it, and any buffered messages that now
    /// follow in order, are ready in [`ReliableChannel::poll_delivered`].
    Deliver,
    /// A message ahead of the next expected one but inside our receive
    /// window: kept until the gap fills (RFC 2661 §5.8 allows queueing).
    Buffered,
    /// A message already received (`Ns` before the next expected one, or a
    /// copy of a buffered one): dropped; an acknowledgement is scheduled at
    /// once, as RFC 2661 §5.8 requires for duplicates.
    Duplicate,
    /// A message beyond our receive window: dropped and counted.
    OutOfWindow,
    /// A ZLB (or L2TPv3 explicit ACK, RFC 3931 §4.2): only its `Nr` was
    /// processed.
    Ack,
}

/// One packet to put on the wire, as produced by
/// [`ReliableChannel::poll_transmit`]. The caller adds the control header
/// with these `Ns` and `Nr` (and, for L2TPv3, recomputes the message digest,
/// which covers the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `Ns` of the packet. For a ZLB this is our next `Ns`, which a ZLB does
    /// not consume (RFC 2661 §5.8).
    pub ns: u16,
    /// `Nr`: the next `Ns` we expect from the peer, acknowledging every
    /// message before it.
    pub nr: u16,
    /// The message's AVP bytes as given to [`ReliableChannel::send`]; empty
    /// for a ZLB.
    pub payload: Rc<[u8]>,
    /// True when this is a retransmission of a message sent before.
    pub retransmission: bool,
    /// True for a ZLB acknowledgement (header only, never retransmitted).
    pub zlb: bool,
}

/// Counters of one channel, for `show` output and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReliableStats {
    /// Messages transmitted for the first time.
    pub sent: u64,
    /// Retransmissions of messages.
    pub retransmitted: u64,
    /// Messages acknowledged by the peer.
    pub acked: u64,
    /// ZLB acknowledgements sent.
    pub zlb_sent: u64,
    /// ZLB (or explicit ACK) packets received.
    pub zlb_received: u64,
    /// Messages delivered in order to the caller.
    pub delivered: u64,
    /// Messages received out of order and buffered.
    pub buffered: u64,
    /// Duplicate messages received (dropped, re-acknowledged).
    pub duplicates: u64,
    /// Messages received beyond our receive window (dropped).
    pub out_of_window: u64,
    /// Received `Nr` values acknowledging messages we never sent (ignored).
    pub bad_nr: u64,
}

/// A message that has an `Ns` and is waiting for the peer's acknowledgement.
#[derive(Debug)]
struct InFlight {
    payload: Rc<[u8]>,
    /// Retransmissions so far.
    retries: u32,
    /// Current retransmission timeout (doubles on each retransmission).
    rto: Duration,
    /// When to retransmit; `None` while not on the wire (never sent, or a
    /// retransmission is queued).
    deadline: Option<Instant>,
    /// Transmitted at least once.
    sent: bool,
    /// Its `Ns` is in the transmit queue.
    queued: bool,
}

/// The reliable delivery state of one control connection (RFC 2661 §5.8,
/// RFC 3931 §4.2). See the module documentation for the calling pattern.
#[derive(Debug)]
pub struct ReliableChannel {
    config: ReliableConfig,
    /// Peer's receive window, clamped to 1..=MAX_WINDOW.
    peer_window: u16,
    /// Our receive window, clamped to 1..=MAX_WINDOW.
    rx_window: u16,
    /// `Ns` the next new message gets.
    next_ns: u16,
    /// `Ns` of the oldest unacknowledged message; `una + unacked.len()` is
    /// always `next_ns`.
    una: u16,
    /// Messages waiting for room in the peer's window (no `Ns` yet).
    pending: VecDeque<Rc<[u8]>>,
    /// Messages with an `Ns`, oldest (`una`) first.
    unacked: VecDeque<InFlight>,
    /// `Ns` values to (re)transmit, in order.
    tx_queue: VecDeque<u16>,
    /// Next `Ns` expected from the peer: the `Nr` we send.
    next_nr: u16,
    /// Out-of-order messages; slot `i` holds `Ns = next_nr + i` (slot 0 is
    /// always empty between calls).
    reorder: VecDeque<Option<Vec<u8>>>,
    /// In-order messages not yet taken by the caller.
    delivered: VecDeque<Vec<u8>>,
    /// When an acknowledgement is owed: send a ZLB at this time unless a
    /// message carries the `Nr` first.
    ack_deadline: Option<Instant>,
    /// Messages accepted since our `Nr` last went out.
    rx_since_ack: u16,
    /// Last time anything arrived from the peer (HELLO idle timer).
    last_rx: Instant,
    /// The HELLO for the current idle period has been signalled.
    hello_fired: bool,
    /// A HELLO is due and [`ReliableChannel::hello_due`] has not reported it.
    hello_pending: bool,
    /// Appendix A congestion window, in messages.
    cwnd: u16,
    /// Appendix A slow-start threshold, in messages.
    ssthresh: u16,
    /// Appendix A congestion-avoidance acknowledgement counter.
    ca_count: u16,
    dead: bool,
    stats: ReliableStats,
}

impl ReliableChannel {
    /// Creates a channel with `Ns` = `Nr` = 0 (RFC 2661 §5.8: the first
    /// message of a control connection has `Ns` 0). `now` starts the HELLO
    /// idle timer. Out-of-range windows are clamped to 1..=[`MAX_WINDOW`];
    /// timers to [`MAX_TIMER`].
    pub fn new(config: ReliableConfig, now: Instant) -> Self {
        let mut config = config;
        config.retry_timeout = config.retry_timeout.min(MAX_TIMER);
        config.max_retry_timeout = config.max_retry_timeout.clamp(config.retry_timeout, MAX_TIMER);
        config.ack_delay = config.ack_delay.min(MAX_TIMER);
        config.hello_interval = config.hello_interval.map(|d| d.min(MAX_TIMER));
        let peer_window = clamp_window(config.peer_rx_window_size);
        let rx_window = clamp_window(config.rx_window_size);
        ReliableChannel {
            config,
            peer_window,
            rx_window,
            next_ns: 0,
            una: 0,
            pending: VecDeque::new(),
            unacked: VecDeque::new(),
            tx_queue: VecDeque::new(),
            next_nr: 0,
            reorder: VecDeque::new(),
            delivered: VecDeque::new(),
            ack_deadline: None,
            rx_since_ack: 0,
            last_rx: now,
            hello_fired: false,
            hello_pending: false,
            cwnd: 1,
            ssthresh: peer_window,
            ca_count: 0,
            dead: false,
            stats: ReliableStats::default(),
        }
    }

    /// Sets the peer's receive window from its Receive Window Size AVP
    /// (RFC 2661 §4.4.3, §5.8), in messages. 0 is invalid per RFC 2661 §5.8
    /// and is treated as 1; values above [`MAX_WINDOW`] are clamped. A
    /// larger window may let queued messages go out: drain
    /// [`Self::poll_transmit`] afterwards.
    pub fn set_peer_window(&mut self, w: u16) {
        self.peer_window = clamp_window(w);
        // RFC 2661 Appendix A: the slow-start threshold starts at the
        // peer's window.
        self.ssthresh = self.peer_window;
        self.cwnd = self.cwnd.min(self.peer_window);
        self.fill_window();
    }

    /// The peer's receive window in use, in messages (1..=[`MAX_WINDOW`]).
    pub fn peer_window(&self) -> u16 {
        self.peer_window
    }

    /// Our receive window in use, in messages (1..=[`MAX_WINDOW`]): the
    /// value to advertise in the Receive Window Size AVP.
    pub fn rx_window(&self) -> u16 {
        self.rx_window
    }

    /// Queues one control message (its encoded AVPs, no header) for
    /// reliable delivery. It gets the next `Ns` when it fits in the peer's
    /// window (RFC 2661 §5.8) and is then sent by [`Self::poll_transmit`].
    /// The payload should not be empty: an empty message is sent with an
    /// `Ns` like any other, but the peer would take it for a ZLB.
    pub fn send(&mut self, _now: Instant, payload: Vec<u8>) {
        self.pending.push_back(Rc::from(payload));
        self.fill_window();
    }

    /// Feeds one received control packet: its `Ns`, its `Nr`, and its AVP
    /// bytes (`None` for a ZLB or an L2TPv3 explicit ACK, which only carry
    /// an acknowledgement). Restarts the HELLO idle timer.
    ///
    /// `Nr` acknowledges every message before it (RFC 2661 §5.8); a value
    /// acknowledging messages we never sent is ignored and counted in
    /// `bad_nr`. See [`RxVerdict`] for what happens to the message itself.
    pub fn on_receive(&mut self, now: Instant, ns: u16, nr: u16, payload: Option<Vec<u8>>) -> RxVerdict {
        self.last_rx = now;
        self.hello_fired = false;
        self.hello_pending = false;
        self.process_nr(nr);
        let Some(payload) = payload else {
            self.stats.zlb_received += 1;
            return RxVerdict::Ack;
        };
        if seq_lt(ns, self.next_nr) {
            // RFC 2661 §5.8: a duplicate MUST be acknowledged, or the peer
            // keeps retransmitting; do so without delay.
            self.stats.duplicates += 1;
            self.ack_at(now);
            return RxVerdict::Duplicate;
        }
        let offset = usize::from(ns.wrapping_sub(self.next_nr));
        if offset >= usize::from(self.rx_window) {
            self.stats.out_of_window += 1;
            return RxVerdict::OutOfWindow;
        }
        // Acknowledge after `ack_delay`, unless half our window is now
        // unacknowledged: the peer is about to stall on its send window, so
        // the ZLB goes at once (RFC 2661 §5.8 only forbids withholding acks).
        self.rx_since_ack = self.rx_since_ack.saturating_add(1);
        if self.rx_since_ack >= (self.rx_window / 2).max(1) {
            self.ack_at(now);
        } else {
            self.ack_at(now.checked_add(self.config.ack_delay).unwrap_or(now));
        }
        if offset == 0 {
            self.deliver(payload);
            return RxVerdict::Deliver;
        }
        if self.reorder.len() <= offset {
            self.reorder.resize_with(offset + 1, || None);
        }
        match self.reorder.get_mut(offset) {
            Some(slot @ None) => {
                *slot = Some(payload);
                self.stats.buffered += 1;
                RxVerdict::Buffered
            }
            _ => {
                self.stats.duplicates += 1;
                RxVerdict::Duplicate
            }
        }
    }

    /// Takes the next received message in `Ns` order (its AVP bytes), each
    /// exactly once.
    pub fn poll_delivered(&mut self) -> Option<Vec<u8>> {
        self.delivered.pop_front()
    }

    /// The next packet to put on the wire, if any: queued transmissions and
    /// retransmissions first, each carrying the current `Nr`, which cancels
    /// a pending ZLB (piggybacked acknowledgement, RFC 2661 §5.8); then a
    /// ZLB if an acknowledgement is owed and its `ack_delay` has passed.
    /// Starts the retransmission timer of the message sent. Call until it
    /// returns `None` after every other call. A dead channel sends nothing.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if self.dead {
            return None;
        }
        while let Some(ns) = self.tx_queue.pop_front() {
            let index = usize::from(ns.wrapping_sub(self.una));
            // Acknowledged since it was queued: nothing to send.
            let Some(entry) = self.unacked.get_mut(index) else {
                continue;
            };
            entry.queued = false;
            let retransmission = entry.sent;
            entry.sent = true;
            entry.deadline = now.checked_add(entry.rto);
            if retransmission {
                self.stats.retransmitted += 1;
            } else {
                self.stats.sent += 1;
            }
            let payload = Rc::clone(&entry.payload);
            self.ack_deadline = None;
            self.rx_since_ack = 0;
            return Some(Outgoing { ns, nr: self.next_nr, payload, retransmission, zlb: false });
        }
        match self.ack_deadline {
            Some(at) if at <= now => {
                self.ack_deadline = None;
                self.rx_since_ack = 0;
                self.stats.zlb_sent += 1;
                Some(Outgoing { ns: self.next_ns, nr: self.next_nr, payload: Rc::from(Vec::new()), retransmission: false, zlb: true })
            }
            _ => None,
        }
    }

    /// Handles the timers due at `now`: messages whose retransmission
    /// timeout expired are queued for retransmission with the timeout
    /// doubled up to `max_retry_timeout`, or, after `max_retries`
    /// retransmissions, the channel becomes dead (RFC 2661 §5.8); a HELLO
    /// becomes due after `hello_interval` without anything received. The
    /// delayed acknowledgement needs no handling here: [`Self::poll_transmit`]
    /// sends the ZLB once its time has come. Calling early is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        let mut lost = false;
        for (index, entry) in self.unacked.iter_mut().enumerate() {
            match entry.deadline {
                Some(at) if at <= now => {}
                _ => continue,
            }
            if entry.retries >= self.config.max_retries {
                self.dead = true;
                self.tx_queue.clear();
                return;
            }
            entry.retries = entry.retries.saturating_add(1);
            entry.rto = entry.rto.saturating_mul(2).min(self.config.max_retry_timeout);
            entry.deadline = None;
            lost = true;
            if !entry.queued {
                entry.queued = true;
                // `index` < unacked.len() <= MAX_WINDOW, so it fits in u16.
                let offset = u16::try_from(index).unwrap_or(u16::MAX);
                self.tx_queue.push_back(self.una.wrapping_add(offset));
            }
        }
        if lost {
            self.on_loss();
        }
        if let Some(at) = self.hello_deadline() {
            if at <= now {
                self.hello_fired = true;
                self.hello_pending = true;
            }
        }
    }

    /// The earliest time [`Self::handle_timeout`] or [`Self::poll_transmit`]
    /// has something to do: a retransmission, a delayed acknowledgement or
    /// a HELLO. `None` when nothing is armed or the channel is dead.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        let retransmit = self.unacked.iter().filter_map(|e| e.deadline).min();
        [retransmit, self.ack_deadline, self.hello_deadline()].into_iter().flatten().min()
    }

    /// True, once per idle period, when nothing was received from the peer
    /// for `hello_interval` (RFC 2661 §6.5 keepalive): the tunnel then
    /// queues a HELLO with [`Self::send`]. Anything received starts a new
    /// period.
    pub fn hello_due(&mut self) -> bool {
        std::mem::take(&mut self.hello_pending)
    }

    /// True once a message was retransmitted `max_retries` times and the
    /// last retransmission timed out too: the peer is gone and the tunnel
    /// must be torn down (RFC 2661 §5.8). Final.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// True when no message is queued or unacknowledged: everything sent
    /// has been acknowledged (used for the hold after StopCCN, RFC 2661
    /// §5.7).
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.unacked.is_empty()
    }

    /// `Ns` the next new message will get.
    pub fn next_ns(&self) -> u16 {
        self.next_ns
    }

    /// `Nr` we send: the next `Ns` expected from the peer.
    pub fn next_nr(&self) -> u16 {
        self.next_nr
    }

    /// Messages sent (with an `Ns`) and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.unacked.len()
    }

    /// Messages waiting for room in the peer's window (no `Ns` yet).
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// The number of messages that may be outstanding now: the peer's
    /// window, or with slow start the smaller of it and the congestion
    /// window (RFC 2661 Appendix A).
    pub fn send_window(&self) -> u16 {
        if self.config.slow_start {
            self.cwnd.min(self.peer_window)
        } else {
            self.peer_window
        }
    }

    /// The channel's counters.
    pub fn stats(&self) -> &ReliableStats {
        &self.stats
    }

    /// The configuration in use (after clamping).
    pub fn config(&self) -> &ReliableConfig {
        &self.config
    }

    /// Test hook: starts the sequence spaces at `ns` and `nr` (a fresh
    /// channel always starts at 0; this reaches the wrap-around quickly).
    #[cfg(test)]
    fn set_sequence(&mut self, ns: u16, nr: u16) {
        self.next_ns = ns;
        self.una = ns;
        self.next_nr = nr;
    }

    /// Owes the peer an acknowledgement by `at` at the latest.
    fn ack_at(&mut self, at: Instant) {
        self.ack_deadline = Some(match self.ack_deadline {
            Some(old) => old.min(at),
            None => at,
        });
    }

    /// When the HELLO of the current idle period is due, if armed.
    fn hello_deadline(&self) -> Option<Instant> {
        if self.hello_fired {
            return None;
        }
        self.config.hello_interval.and_then(|d| self.last_rx.checked_add(d))
    }

    /// Hands the in-order message `payload` (Ns = next_nr) to the caller,
    /// followed by any buffered messages that now follow in order.
    fn deliver(&mut self, payload: Vec<u8>) {
        // Slot 0 stands for `payload` itself.
        self.reorder.pop_front();
        self.delivered.push_back(payload);
        self.next_nr = self.next_nr.wrapping_add(1);
        self.stats.delivered += 1;
        while let Some(Some(_)) = self.reorder.front() {
            if let Some(Some(next)) = self.reorder.pop_front() {
                self.delivered.push_back(next);
                self.next_nr = self.next_nr.wrapping_add(1);
                self.stats.delivered += 1;
            }
        }
    }

    /// Processes a received `Nr`: every message before it is acknowledged
    /// and leaves the retransmission queue (RFC 2661 §5.8). A stale `Nr`
    /// (before `una`) acknowledges nothing new; one beyond `next_ns`
    /// acknowledges messages never sent and is ignored.
    fn process_nr(&mut self, nr: u16) {
        let newly_acked = usize::from(nr.wrapping_sub(self.una));
        if newly_acked == 0 {
            return;
        }
        if newly_acked > self.unacked.len() {
            if !seq_lt(nr, self.una) {
                self.stats.bad_nr += 1;
            }
            return;
        }
        for _ in 0..newly_acked {
            self.unacked.pop_front();
            self.stats.acked += 1;
            self.on_ack();
        }
        self.una = nr;
        self.fill_window();
    }

    /// Gives queued messages their `Ns` while the send window has room.
    fn fill_window(&mut self) {
        let window = usize::from(self.send_window());
        while self.unacked.len() < window {
            let Some(payload) = self.pending.pop_front() else {
                break;
            };
            self.unacked.push_back(InFlight { payload, retries: 0, rto: self.config.retry_timeout, deadline: None, sent: false, queued: true });
            self.tx_queue.push_back(self.next_ns);
            self.next_ns = self.next_ns.wrapping_add(1);
        }
    }

    /// RFC 2661 Appendix A: one message acknowledged. Below the threshold
    /// (slow start) the congestion window grows by one per acknowledgement;
    /// above it (congestion avoidance) by one per window's worth.
    fn on_ack(&mut self) {
        if !self.config.slow_start {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(1);
        } else {
            self.ca_count = self.ca_count.saturating_add(1);
            if self.ca_count >= self.cwnd {
                self.ca_count = 0;
                self.cwnd = self.cwnd.saturating_add(1);
            }
        }
        self.cwnd = self.cwnd.min(self.peer_window);
    }

    /// RFC 2661 Appendix A: a retransmission timeout halves the threshold
    /// (at least 1) and restarts slow start from a window of 1.
    fn on_loss(&mut self) {
        if !self.config.slow_start {
            return;
        }
        self.ssthresh = (self.cwnd / 2).max(1);
        self.cwnd = 1;
        self.ca_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ReliableConfig {
        ReliableConfig { hello_interval: None, ..ReliableConfig::default() }
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn drain(ch: &mut ReliableChannel, now: Instant) -> Vec<Outgoing> {
        std::iter::from_fn(|| ch.poll_transmit(now)).collect()
    }

    fn delivered(ch: &mut ReliableChannel) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| ch.poll_delivered()).collect()
    }

    /// Feeds `o` into `ch` as the wire would carry it.
    fn recv(ch: &mut ReliableChannel, now: Instant, o: &Outgoing) -> RxVerdict {
        let payload = (!o.zlb).then(|| o.payload.to_vec());
        ch.on_receive(now, o.ns, o.nr, payload)
    }

    #[test]
    fn seq_compare_wraps() {
        assert!(seq_lt(0, 1));
        assert!(!seq_lt(1, 0));
        assert!(!seq_lt(5, 5));
        assert!(seq_le(5, 5));
        assert!(seq_lt(65535, 0));
        assert!(seq_lt(65000, 100));
        assert!(!seq_lt(100, 65000));
        assert!(seq_lt(0, 32767));
        assert!(!seq_lt(0, 32768));
    }

    #[test]
    fn in_order_delivery() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        let mut b = ReliableChannel::new(cfg(), t0);
        for i in 0..3u8 {
            a.send(t0, vec![i]);
        }
        let out = drain(&mut a, t0);
        let ns: Vec<u16> = out.iter().map(|o| o.ns).collect();
        assert_eq!(ns, [0, 1, 2]);
        assert!(out.iter().all(|o| o.nr == 0 && !o.zlb && !o.retransmission));
        for o in &out {
            assert_eq!(recv(&mut b, t0, o), RxVerdict::Deliver);
        }
        assert_eq!(delivered(&mut b), [vec![0], vec![1], vec![2]]);
        assert_eq!(b.poll_delivered(), None);
        assert_eq!(b.next_nr(), 3);
        assert_eq!(a.next_ns(), 3);
        assert_eq!(a.outstanding(), 3);
        assert_eq!(a.stats().sent, 3);
        assert_eq!(b.stats().delivered, 3);
    }

    #[test]
    fn peer_window_limits_outstanding() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        for i in 0..6u8 {
            a.send(t0, vec![i]);
        }
        let first: Vec<u16> = drain(&mut a, t0).iter().map(|o| o.ns).collect();
        assert_eq!(first, [0, 1, 2, 3]);
        assert_eq!((a.outstanding(), a.queued()), (4, 2));
        assert!(a.poll_transmit(at(t0, 10)).is_none());
        // A ZLB acknowledging Ns 0 and 1 opens two slots.
        assert_eq!(a.on_receive(at(t0, 20), 0, 2, None), RxVerdict::Ack);
        let next: Vec<u16> = drain(&mut a, at(t0, 20)).iter().map(|o| o.ns).collect();
        assert_eq!(next, [4, 5]);
        assert_eq!(a.stats().acked, 2);
        assert_eq!(a.on_receive(at(t0, 30), 0, 6, None), RxVerdict::Ack);
        assert!(a.is_idle());
        assert_eq!(a.poll_timeout(), None);
    }

    #[test]
    fn set_peer_window_clamps_and_opens() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        a.set_peer_window(0);
        assert_eq!(a.peer_window(), 1);
        for i in 0..3u8 {
            a.send(t0, vec![i]);
        }
        assert_eq!(drain(&mut a, t0).len(), 1);
        a.set_peer_window(65535);
        assert_eq!(a.peer_window(), MAX_WINDOW);
        let more: Vec<u16> = drain(&mut a, t0).iter().map(|o| o.ns).collect();
        assert_eq!(more, [1, 2]);
    }

    #[test]
    fn ack_piggybacks_on_outgoing_message() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        let mut b = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"sccrq".to_vec());
        let sccrq = drain(&mut a, t0);
        assert_eq!(recv(&mut b, t0, &sccrq[0]), RxVerdict::Deliver);
        // The acknowledgement waits for a message to ride on.
        assert!(b.poll_transmit(t0).is_none());
        assert_eq!(b.poll_timeout(), Some(at(t0, 100)));
        b.send(at(t0, 50), b"sccrp".to_vec());
        let sccrp = drain(&mut b, at(t0, 50));
        assert_eq!(sccrp.len(), 1);
        assert_eq!((sccrp[0].ns, sccrp[0].nr, sccrp[0].zlb), (0, 1, false));
        // The piggyback cancelled the ZLB.
        assert!(b.poll_transmit(at(t0, 200)).is_none());
        assert_eq!(b.poll_timeout(), Some(at(t0, 1050)));
        assert_eq!(b.stats().zlb_sent, 0);
        assert_eq!(recv(&mut a, at(t0, 60), &sccrp[0]), RxVerdict::Deliver);
        assert!(a.is_idle());
    }

    #[test]
    fn zlb_after_ack_delay() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        let mut b = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"hello".to_vec());
        let msg = drain(&mut a, t0);
        recv(&mut b, t0, &msg[0]);
        b.handle_timeout(at(t0, 99));
        assert!(b.poll_transmit(at(t0, 99)).is_none());
        b.handle_timeout(at(t0, 100));
        let zlb = drain(&mut b, at(t0, 100));
        assert_eq!(zlb.len(), 1);
        assert!(zlb[0].zlb && zlb[0].payload.is_empty() && !zlb[0].retransmission);
        assert_eq!((zlb[0].ns, zlb[0].nr), (0, 1));
        // A ZLB consumes no Ns and is never retransmitted.
        assert_eq!(b.next_ns(), 0);
        assert!(b.is_idle());
        assert_eq!(b.poll_timeout(), None);
        b.handle_timeout(at(t0, 60_000));
        assert!(b.poll_transmit(at(t0, 60_000)).is_none());
        assert_eq!(b.stats().zlb_sent, 1);
        // The ZLB acknowledges the message at the sender.
        assert_eq!(recv(&mut a, at(t0, 110), &zlb[0]), RxVerdict::Ack);
        assert!(a.is_idle());
        assert_eq!(a.poll_timeout(), None);
        assert_eq!(a.stats().zlb_received, 1);
        assert_eq!(a.poll_delivered(), None);
    }

    #[test]
    fn half_a_window_unacknowledged_is_acked_at_once() {
        // With a receive window of 4, the second unacknowledged message
        // gets a ZLB at once: the sender is about to stall on its window.
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(ReliableConfig { peer_rx_window_size: 4, ..cfg() }, t0);
        let mut b = ReliableChannel::new(ReliableConfig { rx_window_size: 4, ..cfg() }, t0);
        a.send(t0, b"one".to_vec());
        a.send(t0, b"two".to_vec());
        let msgs = drain(&mut a, t0);
        assert_eq!(msgs.len(), 2);
        recv(&mut b, t0, &msgs[0]);
        assert!(b.poll_transmit(t0).is_none(), "one message: the ack waits for ack_delay");
        recv(&mut b, t0, &msgs[1]);
        let zlb = drain(&mut b, t0);
        assert_eq!(zlb.len(), 1);
        assert!(zlb[0].zlb);
        assert_eq!(zlb[0].nr, 2);
    }

    #[test]
    fn duplicate_is_dropped_and_acked_at_once() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        let mut b = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"icrq".to_vec());
        let msg = drain(&mut a, t0);
        assert_eq!(recv(&mut b, t0, &msg[0]), RxVerdict::Deliver);
        assert_eq!(drain(&mut b, at(t0, 100)).len(), 1); // ZLB, lost on the way
        a.handle_timeout(at(t0, 1000));
        let again = drain(&mut a, at(t0, 1000));
        assert_eq!(again.len(), 1);
        assert!(again[0].retransmission);
        assert_eq!(recv(&mut b, at(t0, 1000), &again[0]), RxVerdict::Duplicate);
        let zlb = drain(&mut b, at(t0, 1000));
        assert_eq!(zlb.len(), 1);
        assert!(zlb[0].zlb);
        assert_eq!(zlb[0].nr, 1);
        assert_eq!(delivered(&mut b), [b"icrq".to_vec()]);
        assert_eq!(b.stats().duplicates, 1);
        recv(&mut a, at(t0, 1010), &zlb[0]);
        assert!(a.is_idle());
    }

    #[test]
    fn out_of_order_messages_are_buffered_then_delivered_in_order() {
        let t0 = Instant::now();
        let config = ReliableConfig { rx_window_size: 4, ..cfg() };
        let mut b = ReliableChannel::new(config, t0);
        assert_eq!(b.on_receive(t0, 2, 0, Some(vec![2])), RxVerdict::Buffered);
        assert_eq!(b.on_receive(t0, 1, 0, Some(vec![1])), RxVerdict::Buffered);
        assert_eq!(b.poll_delivered(), None);
        assert_eq!(b.next_nr(), 0);
        assert_eq!(b.on_receive(t0, 2, 0, Some(vec![2])), RxVerdict::Duplicate);
        assert_eq!(b.on_receive(t0, 0, 0, Some(vec![0])), RxVerdict::Deliver);
        assert_eq!(delivered(&mut b), [vec![0], vec![1], vec![2]]);
        assert_eq!(b.next_nr(), 3);
        // Window is Ns 3..=6.
        assert_eq!(b.on_receive(t0, 7, 0, Some(vec![7])), RxVerdict::OutOfWindow);
        assert_eq!(b.on_receive(t0, 6, 0, Some(vec![6])), RxVerdict::Buffered);
        assert_eq!(b.on_receive(t0, 1, 0, Some(vec![1])), RxVerdict::Duplicate);
        let s = b.stats();
        assert_eq!((s.buffered, s.duplicates, s.out_of_window), (3, 2, 1));
        assert_eq!(b.poll_delivered(), None);
    }

    #[test]
    fn retransmission_backs_off_then_channel_dies() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"sccrq".to_vec());
        assert_eq!(drain(&mut a, t0).len(), 1);
        // Intervals 1, 2, 4, 8, 8 s (capped), then 8 s more without ack.
        let mut expected = vec![];
        for t in [1_000, 3_000, 7_000, 15_000, 23_000] {
            assert_eq!(a.poll_timeout(), Some(at(t0, t)));
            a.handle_timeout(at(t0, t - 1));
            assert!(a.poll_transmit(at(t0, t - 1)).is_none());
            a.handle_timeout(at(t0, t));
            let out = drain(&mut a, at(t0, t));
            assert_eq!(out.len(), 1);
            assert!(out[0].retransmission);
            assert_eq!(out[0].ns, 0);
            assert_eq!(&out[0].payload[..], b"sccrq");
            expected.push(t);
        }
        assert_eq!(a.stats().retransmitted, 5);
        assert_eq!(a.poll_timeout(), Some(at(t0, 31_000)));
        a.handle_timeout(at(t0, 30_999));
        assert!(!a.is_dead());
        a.handle_timeout(at(t0, 31_000));
        assert!(a.is_dead());
        assert!(a.poll_transmit(at(t0, 31_000)).is_none());
        assert_eq!(a.poll_timeout(), None);
        assert_eq!(expected.len(), 5);
    }

    #[test]
    fn retransmission_carries_current_nr_and_ack_stops_it() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"m".to_vec());
        drain(&mut a, t0);
        // Meanwhile a message from the peer arrives.
        assert_eq!(a.on_receive(at(t0, 500), 0, 0, Some(b"p".to_vec())), RxVerdict::Deliver);
        a.handle_timeout(at(t0, 1000));
        let out = drain(&mut a, at(t0, 1000));
        assert_eq!(out.len(), 1, "the retransmission replaces the ZLB");
        assert_eq!((out[0].nr, out[0].retransmission), (1, true));
        assert_eq!(a.stats().zlb_sent, 0);
        a.on_receive(at(t0, 1100), 1, 1, None);
        assert!(a.is_idle());
        assert_eq!(a.poll_timeout(), None);
        a.handle_timeout(at(t0, 100_000));
        assert!(!a.is_dead());
        assert!(a.poll_transmit(at(t0, 100_000)).is_none());
    }

    #[test]
    fn bad_nr_is_ignored() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        a.send(t0, b"m".to_vec());
        drain(&mut a, t0);
        a.on_receive(t0, 0, 5, None);
        assert_eq!(a.outstanding(), 1);
        assert_eq!(a.stats().bad_nr, 1);
        // A stale Nr (before the oldest unacknowledged) is not an error.
        a.on_receive(t0, 0, 1, None);
        a.on_receive(t0, 0, 0, None);
        assert_eq!(a.stats().bad_nr, 1);
        assert!(a.is_idle());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t0 = Instant::now();
        let mut a = ReliableChannel::new(cfg(), t0);
        let mut b = ReliableChannel::new(cfg(), t0);
        a.set_sequence(65534, 0);
        b.set_sequence(0, 65534);
        for i in 0..4u8 {
            a.send(t0, vec![i]);
        }
        let out = drain(&mut a, t0);
        let ns: Vec<u16> = out.iter().map(|o| o.ns).collect();
        assert_eq!(ns, [65534, 65535, 0, 1]);
        assert_eq!(a.next_ns(), 2);
        let verdicts: Vec<RxVerdict> = [2, 1, 3, 0].iter().map(|&i| recv(&mut b, t0, &out[i])).collect();
        use RxVerdict::*;
        assert_eq!(verdicts, [Buffered, Buffered, Buffered, Deliver]);
        assert_eq!(delivered(&mut b), [vec![0], vec![1], vec![2], vec![3]]);
        assert_eq!(b.next_nr(), 2);
        assert_eq!(recv(&mut b, t0, &out[1]), Duplicate);
        let zlb = drain(&mut b, t0);
        assert_eq!(zlb[0].nr, 2);
        recv(&mut a, t0, &zlb[0]);
        assert!(a.is_idle());
        assert_eq!(a.stats().acked, 4);
    }

    #[test]
    fn hello_due_once_per_idle_period() {
        let t0 = Instant::now();
        let config = ReliableConfig { hello_interval: Some(Duration::from_secs(60)), ..cfg() };
        let mut a = ReliableChannel::new(config, t0);
        assert_eq!(a.poll_timeout(), Some(at(t0, 60_000)));
        a.handle_timeout(at(t0, 59_999));
        assert!(!a.hello_due());
        a.handle_timeout(at(t0, 60_000));
        assert!(a.hello_due());
        assert!(!a.hello_due());
        a.handle_timeout(at(t0, 61_000));
        assert!(!a.hello_due());
        assert_eq!(a.poll_timeout(), None);
        a.on_receive(at(t0, 70_000), 0, 0, None);
        assert_eq!(a.poll_timeout(), Some(at(t0, 130_000)));
        a.handle_timeout(at(t0, 129_999));
        assert!(!a.hello_due());
        a.handle_timeout(at(t0, 130_000));
        assert!(a.hello_due());
    }

    #[test]
    fn slow_start_grows_and_collapses_the_window() {
        let t0 = Instant::now();
        let config = ReliableConfig { slow_start: true, ..cfg() };
        let mut a = ReliableChannel::new(config, t0);
        for i in 0..8u8 {
            a.send(t0, vec![i]);
        }
        assert_eq!(drain(&mut a, t0).len(), 1);
        a.on_receive(t0, 0, 1, None);
        assert_eq!(a.send_window(), 2);
        assert_eq!(drain(&mut a, t0).len(), 2);
        a.on_receive(t0, 0, 3, None);
        assert_eq!(a.send_window(), 4);
        assert_eq!(drain(&mut a, t0).len(), 4);
        // All four time out together: threshold 2, window 1.
        a.handle_timeout(at(t0, 1000));
        assert_eq!(a.send_window(), 1);
        assert_eq!(drain(&mut a, at(t0, 1000)).len(), 4);
        // Four acks: slow start to 2, then congestion avoidance to 3.
        a.on_receive(at(t0, 1100), 0, 7, None);
        assert_eq!(a.send_window(), 3);
        assert_eq!(drain(&mut a, at(t0, 1100)).len(), 1);
    }

    /// xorshift64: a tiny deterministic PRNG for the lossy link.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn percent(&mut self, p: u64) -> bool {
            self.next() % 100 < p
        }
    }

    struct InTransit {
        arrive: Instant,
        to_b: bool,
        pkt: Outgoing,
    }

    struct Link {
        rng: Rng,
        loss: u64,
        dup: u64,
        in_transit: Vec<InTransit>,
    }

    impl Link {
        fn send(&mut self, now: Instant, to_b: bool, pkt: Outgoing) {
            let copies = if self.rng.percent(self.dup) { 2 } else { 1 };
            for _ in 0..copies {
                if self.rng.percent(self.loss) {
                    continue;
                }
                // 5..=54 ms of latency: packets overtake each other.
                let delay = 5 + self.rng.next() % 50;
                self.in_transit.push(InTransit { arrive: now + Duration::from_millis(delay), to_b, pkt: pkt.clone() });
            }
        }
    }

    fn number(p: Vec<u8>) -> u32 {
        u32::from_be_bytes(p.try_into().expect("4-byte test payload"))
    }

    /// Runs `a` sending 1,000 numbered messages to `b` and `b` sending 200
    /// to `a` over a lossy, duplicating, reordering link; returns both
    /// channels and what each received.
    fn simulate(loss: u64, dup: u64, seed: u64, slow_start: bool) -> (ReliableChannel, ReliableChannel, Vec<u32>, Vec<u32>) {
        let t0 = Instant::now();
        let config = ReliableConfig { max_retries: 30, slow_start, ..cfg() };
        let mut a = ReliableChannel::new(config.clone(), t0);
        let mut b = ReliableChannel::new(config, t0);
        for i in 0..1000u32 {
            a.send(t0, i.to_be_bytes().to_vec());
        }
        for i in 0..200u32 {
            b.send(t0, i.to_be_bytes().to_vec());
        }
        let mut link = Link { rng: Rng(seed), loss, dup, in_transit: Vec::new() };
        let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
        let mut now = t0;
        for _ in 0..1_000_000 {
            while let Some(o) = a.poll_transmit(now) {
                link.send(now, true, o);
            }
            while let Some(o) = b.poll_transmit(now) {
                link.send(now, false, o);
            }
            if got_b.len() == 1000 && got_a.len() == 200 && a.is_idle() && b.is_idle() {
                return (a, b, got_b, got_a);
            }
            let arrival = link.in_transit.iter().map(|p| p.arrive).min();
            let next = [arrival, a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().expect("simulation stalled with nothing pending");
            now = now.max(next);
            link.in_transit.sort_by_key(|p| p.arrive);
            let later = link.in_transit.partition_point(|p| p.arrive <= now);
            let due: Vec<InTransit> = link.in_transit.drain(..later).collect();
            for p in due {
                let (rx, got) = if p.to_b { (&mut b, &mut got_b) } else { (&mut a, &mut got_a) };
                recv(rx, now, &p.pkt);
                got.extend(std::iter::from_fn(|| rx.poll_delivered()).map(number));
            }
            a.handle_timeout(now);
            b.handle_timeout(now);
            assert!(!a.is_dead() && !b.is_dead(), "channel died at loss {loss}%");
        }
        panic!("simulation did not finish at loss {loss}%");
    }

    #[test]
    fn lossless_link_delivers_without_retransmission() {
        let (a, b, got_b, got_a) = simulate(0, 0, 0x9e37_79b9_7f4a_7c15, false);
        assert_eq!(got_b, (0..1000).collect::<Vec<u32>>());
        assert_eq!(got_a, (0..200).collect::<Vec<u32>>());
        assert_eq!(a.stats().retransmitted + b.stats().retransmitted, 0);
        assert_eq!(a.stats().duplicates + b.stats().duplicates, 0);
        assert_eq!(a.stats().sent, 1000);
        assert_eq!(b.stats().acked, 200);
        assert_eq!(a.next_ns(), 1000);
    }

    #[test]
    fn lossy_link_delivers_in_order_exactly_once() {
        for (loss, seed) in [(0, 1), (10, 2), (30, 3)] {
            for slow_start in [false, true] {
                let (a, b, got_b, got_a) = simulate(loss, 5, seed, slow_start);
                assert_eq!(got_b, (0..1000).collect::<Vec<u32>>(), "loss {loss}%");
                assert_eq!(got_a, (0..200).collect::<Vec<u32>>(), "loss {loss}%");
                assert_eq!(a.stats().acked, 1000);
                assert_eq!(b.stats().delivered, 1000);
                if loss > 0 {
                    assert!(a.stats().retransmitted > 0, "loss {loss}%");
                }
                // Duplication alone shows up as duplicates at the receiver.
                assert!(b.stats().duplicates > 0, "loss {loss}%");
            }
        }
    }
}
