//! The RFC 1661 §4 option-negotiation automaton, one implementation for
//! LCP, IPCP and IPv6CP (STYLE.md rule 5).
//!
//! [`Fsm`] owns the state, restart timer, counters and Identifiers; the
//! protocol-specific part — which options to request and how to judge,
//! acknowledge or retry them — is a [`ConfigPolicy`]. Inputs are the
//! administrative and lower-layer events (`up`, `down`, `open`, `close`),
//! parsed control packets and `handle_timeout(now)`; outputs are polled:
//! packets to send, the next deadline and [`FsmEvent`]s (this-layer-up,
//! -down, -started, -finished). No clock reads, no I/O.
//!
//! The optional "restart" and "passive" behaviours of §4.1 are not used:
//! Open in Stopped, Closing or Stopping only changes the administrative
//! intent, and the timeout in Req-Sent/Ack-Rcvd/Ack-Sent is final.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::frame::{code, ConfOption, Packet};

/// The ten states of RFC 1661 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Lower layer down, no Open (state 0).
    Initial,
    /// Lower layer down, Open received (state 1).
    Starting,
    /// Lower layer up, no Open (state 2).
    Closed,
    /// Lower layer up, negotiation ended or refused (state 3).
    Stopped,
    /// Terminate-Request sent after Close (state 4).
    Closing,
    /// Terminate-Request sent, link going down (state 5).
    Stopping,
    /// Configure-Request sent (state 6).
    ReqSent,
    /// Configure-Request sent and Configure-Ack received (state 7).
    AckRcvd,
    /// Configure-Request sent and Configure-Ack sent (state 8).
    AckSent,
    /// Negotiation done (state 9).
    Opened,
}

/// The "this-layer" actions of RFC 1661 §4.4 that the layer above acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsmEvent {
    /// This-Layer-Up (tlu): the protocol is Opened; read the negotiated
    /// values from the policy.
    Up,
    /// This-Layer-Down (tld): leaving Opened.
    Down,
    /// This-Layer-Started (tls): the lower layer is needed.
    Starting,
    /// This-Layer-Finished (tlf): the lower layer is no longer needed.
    Finished,
}

/// A policy's judgement of a peer's Configure-Request (RFC 1661 §5.1–5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every option is recognised and acceptable: send Configure-Ack.
    Ack,
    /// All recognised, some values unacceptable: Configure-Nak with the
    /// values we would accept.
    Nak(Vec<ConfOption>),
    /// Some options unrecognised or not negotiable: Configure-Reject with
    /// exactly those options, unchanged.
    Reject(Vec<ConfOption>),
}

/// The per-protocol part of the automaton (LCP, IPCP, IPv6CP).
pub trait ConfigPolicy {
    /// The PPP protocol number, for logs.
    fn protocol(&self) -> u16;
    /// Forget what the last negotiation agreed and go back to the configured
    /// request; called when negotiation starts from Starting or Closed.
    fn reset(&mut self);
    /// The options of our next Configure-Request, in order.
    fn request_options(&mut self) -> Vec<ConfOption>;
    /// Judges the peer's Configure-Request and records what an Ack agrees
    /// to. Called once per received request.
    fn judge_request(&mut self, options: &[ConfOption]) -> Verdict;
    /// The peer acknowledged exactly our last request.
    fn apply_ack(&mut self, options: &[ConfOption]);
    /// The peer sent Configure-Nak: adopt its hints for the next request.
    fn apply_nak(&mut self, options: &[ConfOption]);
    /// The peer sent Configure-Reject: stop requesting those options.
    fn apply_reject(&mut self, options: &[ConfOption]);
}

/// Counters and timer of RFC 1661 §4.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsmConfig {
    /// Restart timer (default 3 s).
    pub restart: Duration,
    /// Max-Configure: Configure-Requests sent without an answer before
    /// giving up (default 10).
    pub max_configure: u32,
    /// Max-Terminate: Terminate-Requests sent without a Terminate-Ack
    /// (default 2).
    pub max_terminate: u32,
    /// Max-Failure: Configure-Naks sent without an Ack, after which Naks
    /// become Rejects (default 5).
    pub max_failure: u32,
}

impl Default for FsmConfig {
    fn default() -> Self {
        FsmConfig { restart: Duration::from_secs(3), max_configure: 10, max_terminate: 2, max_failure: 5 }
    }
}

/// The events of RFC 1661 §4.3 that packets and timeouts produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    /// TO+ / TO-.
    Timeout { more: bool },
    /// RCR+ / RCR- with the reply to send, the Identifier and the
    /// request's data (echoed by an Ack).
    Rcr(Verdict, u8, Vec<u8>),
    /// RCA.
    Rca,
    /// RCN (Nak or Reject, already applied).
    Rcn,
    /// RTR with its Identifier.
    Rtr(u8),
    /// RTA.
    Rta,
    /// RUC with the whole rejected packet.
    Ruc(Vec<u8>),
    /// RXJ+ / RXJ-.
    Rxj { catastrophic: bool },
}

/// One RFC 1661 automaton over a [`ConfigPolicy`].
#[derive(Debug)]
pub struct Fsm<P> {
    policy: P,
    config: FsmConfig,
    state: State,
    restart_count: u32,
    failure_count: u32,
    next_id: u8,
    /// Identifier and encoded options of our outstanding Configure-Request.
    last_request: Option<(u8, Vec<u8>)>,
    /// Identifier of our outstanding Terminate-Request.
    term_id: u8,
    deadline: Option<Instant>,
    transmit: VecDeque<Packet>,
    events: VecDeque<FsmEvent>,
}

impl<P: ConfigPolicy> Fsm<P> {
    /// A new automaton in the Initial state.
    pub fn new(policy: P, config: FsmConfig) -> Self {
        Fsm {
            policy,
            config,
            state: State::Initial,
            restart_count: 0,
            failure_count: 0,
            next_id: 1,
            last_request: None,
            term_id: 0,
            deadline: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The policy, holding the negotiated values.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The policy, mutably (e.g. to change what the next request asks).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// The counters and timer in use.
    pub fn config(&self) -> &FsmConfig {
        &self.config
    }

    /// The next packet to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        self.transmit.pop_front()
    }

    /// The next event for the layer above, oldest first.
    pub fn poll_event(&mut self) -> Option<FsmEvent> {
        self.events.pop_front()
    }

    /// When [`Fsm::handle_timeout`] is next due, `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Takes a fresh Identifier (used by LCP for its own codes too).
    pub fn take_identifier(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Queues a packet outside the automaton (LCP Echo, Protocol-Reject).
    pub fn queue(&mut self, packet: Packet) {
        self.transmit.push_back(packet);
    }

    /// The restart timer expired (TO+ / TO-, RFC 1661 §4.3). An early or
    /// stale call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(deadline) if now >= deadline => {}
            _ => return,
        }
        self.deadline = None;
        let more = self.restart_count > 0;
        self.step(now, Input::Timeout { more });
    }

    /// A control packet of this protocol, codes 1–7 (RFC 1661 §5.1–5.6).
    /// Other codes are unknown here (RUC: Code-Reject). Replies whose
    /// Identifier does not match our outstanding request are discarded.
    pub fn handle_packet(&mut self, now: Instant, packet: &Packet) {
        let input = match packet.code {
            code::CONF_REQ => match ConfOption::parse_list(&packet.data) {
                Ok(options) => Input::Rcr(self.judge(&options), packet.identifier, packet.data.clone()),
                // Unparseable options: discard (RFC 1661 §5 "silently discarded").
                Err(_) => return,
            },
            code::CONF_ACK | code::CONF_NAK | code::CONF_REJ => match self.reply(packet) {
                Some(input) => input,
                None => return,
            },
            code::TERM_REQ => Input::Rtr(packet.identifier),
            code::TERM_ACK => Input::Rta,
            code::CODE_REJ => {
                // §5.6: a rejected code this automaton needs is catastrophic.
                let rejected = packet.data.first().copied().unwrap_or(0);
                Input::Rxj { catastrophic: (code::CONF_REQ..=code::CODE_REJ).contains(&rejected) }
            }
            _ => match packet.to_bytes() {
                Ok(bytes) => Input::Ruc(bytes),
                Err(_) => return,
            },
        };
        self.step(now, input);
    }

    /// A Code-Reject or Protocol-Reject the layer above already
    /// classified (RXJ+ when `catastrophic` is false, RXJ- otherwise).
    pub fn handle_reject(&mut self, now: Instant, catastrophic: bool) {
        self.step(now, Input::Rxj { catastrophic });
    }

    /// The lower layer is up (RFC 1661 §4.3 "Up").
    pub fn up(&mut self, now: Instant) {
        match self.state {
            State::Initial => self.state = State::Closed,
            State::Starting => {
                self.begin(now);
                self.state = State::ReqSent;
            }
            _ => {}
        }
    }

    /// The lower layer is down (RFC 1661 §4.3 "Down").
    pub fn down(&mut self, _now: Instant) {
        self.deadline = None;
        self.state = match self.state {
            State::Closed | State::Closing => State::Initial,
            State::Stopped => {
                self.events.push_back(FsmEvent::Starting);
                State::Starting
            }
            State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => State::Starting,
            State::Opened => {
                self.layer_down();
                State::Starting
            }
            other => other,
        };
    }

    /// Administrative Open (RFC 1661 §4.3 "Open").
    pub fn open(&mut self, now: Instant) {
        match self.state {
            State::Initial => {
                self.events.push_back(FsmEvent::Starting);
                self.state = State::Starting;
            }
            State::Closed => {
                self.begin(now);
                self.state = State::ReqSent;
            }
            State::Closing => self.state = State::Stopping,
            _ => {}
        }
    }

    /// Administrative Close (RFC 1661 §4.3 "Close"); `reason` goes into
    /// the Terminate-Request's data.
    pub fn close(&mut self, now: Instant, reason: &[u8]) {
        match self.state {
            State::Starting => {
                self.events.push_back(FsmEvent::Finished);
                self.state = State::Initial;
            }
            State::Stopped => self.state = State::Closed,
            State::Stopping => self.state = State::Closing,
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened => {
                if self.state == State::Opened {
                    self.layer_down();
                }
                self.restart_count = self.config.max_terminate;
                self.send_terminate(now, reason);
                self.state = State::Closing;
            }
            _ => {}
        }
    }

    /// Judges a Configure-Request, turning Naks into Rejects after
    /// Max-Failure (RFC 1661 §4.6).
    fn judge(&mut self, options: &[ConfOption]) -> Verdict {
        match self.policy.judge_request(options) {
            Verdict::Nak(naked) if self.failure_count >= self.config.max_failure => {
                let kinds: Vec<u8> = naked.iter().map(|o| o.kind).collect();
                Verdict::Reject(options.iter().filter(|o| kinds.contains(&o.kind)).cloned().collect())
            }
            verdict => verdict,
        }
    }

    /// Validates a Configure-Ack/Nak/Reject against our outstanding request
    /// and applies it to the policy (RFC 1661 §5.2–5.4).
    fn reply(&mut self, packet: &Packet) -> Option<Input> {
        let (id, sent) = self.last_request.as_ref()?;
        if packet.identifier != *id {
            return None;
        }
        // Replies are only meaningful while negotiating (or in Opened, where
        // they restart it); elsewhere the table answers without the policy.
        let negotiating = matches!(self.state, State::ReqSent | State::AckRcvd | State::AckSent | State::Opened);
        match packet.code {
            code::CONF_ACK => {
                if packet.data != *sent {
                    return None;
                }
                if negotiating {
                    let options = ConfOption::parse_list(sent).ok()?;
                    self.policy.apply_ack(&options);
                }
                Some(Input::Rca)
            }
            code::CONF_NAK => {
                let options = ConfOption::parse_list(&packet.data).ok()?;
                if negotiating {
                    self.policy.apply_nak(&options);
                }
                Some(Input::Rcn)
            }
            _ => {
                let options = ConfOption::parse_list(&packet.data).ok()?;
                let ours = ConfOption::parse_list(sent).ok()?;
                // §5.4: a Reject must name options we sent, unchanged.
                if options.is_empty() || !options.iter().all(|o| ours.contains(o)) {
                    return None;
                }
                if negotiating {
                    self.policy.apply_reject(&options);
                }
                Some(Input::Rcn)
            }
        }
    }

    /// The transition table of RFC 1661 §4.1 for packet and timer events,
    /// one `match (state, event)`.
    fn step(&mut self, now: Instant, input: Input) {
        use Input::*;
        use State::*;
        let state = self.state;
        self.state = match (state, input) {
            // TO+: retransmit (Closing/Stopping: str; negotiating: scr).
            (Closing | Stopping, Timeout { more: true }) => {
                self.send_terminate(now, b"");
                state
            }
            (ReqSent | AckRcvd, Timeout { more: true }) => {
                self.send_configure_request(now);
                ReqSent
            }
            (AckSent, Timeout { more: true }) => {
                self.send_configure_request(now);
                AckSent
            }
            // TO-: give up.
            (Closing, Timeout { more: false }) => self.finished(Closed),
            (Stopping | ReqSent | AckRcvd | AckSent, Timeout { more: false }) => self.finished(Stopped),
            (_, Timeout { .. }) => state,

            // RCR+ / RCR-.
            (Closed, Rcr(_, id, _)) => {
                self.send_terminate_ack(id);
                Closed
            }
            (Stopped, Rcr(verdict, id, data)) => {
                self.restart_count = self.config.max_configure;
                self.failure_count = 0;
                self.send_configure_request(now);
                self.answer(verdict, id, data)
            }
            (Closing | Stopping, Rcr(..)) => state,
            (ReqSent | AckSent, Rcr(verdict, id, data)) => self.answer(verdict, id, data),
            (AckRcvd, Rcr(verdict, id, data)) => match self.answer(verdict, id, data) {
                AckSent => self.layer_up(),
                _ => AckRcvd,
            },
            (Opened, Rcr(verdict, id, data)) => {
                self.layer_down();
                self.send_configure_request(now);
                self.answer(verdict, id, data)
            }
            (Initial | Starting, Rcr(..)) => state,

            // RCA.
            (Closed | Stopped, Rca | Rcn) => {
                self.send_terminate_ack(self.peek_reply_id());
                state
            }
            (ReqSent, Rca) => {
                self.restart_count = self.config.max_configure;
                self.deadline = Some(now + self.config.restart);
                AckRcvd
            }
            (AckRcvd, Rca | Rcn) => {
                // Crossed connection ("x"): start over.
                self.send_configure_request(now);
                ReqSent
            }
            (AckSent, Rca) => {
                self.restart_count = self.config.max_configure;
                self.layer_up()
            }
            (Opened, Rca | Rcn) => {
                self.layer_down();
                self.send_configure_request(now);
                ReqSent
            }
            // RCN.
            (ReqSent | AckSent, Rcn) => {
                self.restart_count = self.config.max_configure;
                self.send_configure_request(now);
                state
            }
            (_, Rca | Rcn) => state,

            // RTR.
            (Closed | Stopped | Closing | Stopping, Rtr(id)) => {
                self.send_terminate_ack(id);
                state
            }
            (ReqSent | AckRcvd | AckSent, Rtr(id)) => {
                self.send_terminate_ack(id);
                ReqSent
            }
            (Opened, Rtr(id)) => {
                self.layer_down();
                self.restart_count = 0;
                self.send_terminate_ack(id);
                // zrc: wait one restart period before finishing.
                self.deadline = Some(now + self.config.restart);
                Stopping
            }
            (_, Rtr(_)) => state,

            // RTA.
            (Closing, Rta) => self.finished(Closed),
            (Stopping, Rta) => self.finished(Stopped),
            (AckRcvd, Rta) => ReqSent,
            (Opened, Rta) => {
                self.layer_down();
                self.send_configure_request(now);
                ReqSent
            }
            (_, Rta) => state,

            // RUC: Code-Reject, except while the lower layer is down.
            (Initial | Starting, Ruc(_)) => state,
            (_, Ruc(rejected)) => {
                self.send_code_reject(rejected);
                state
            }

            // RXJ+ / RXJ-.
            (_, Rxj { catastrophic: false }) => match state {
                AckRcvd => ReqSent,
                other => other,
            },
            (Closed | Closing, Rxj { catastrophic: true }) => self.finished(Closed),
            (Stopped | Stopping | ReqSent | AckRcvd | AckSent, Rxj { catastrophic: true }) => self.finished(Stopped),
            (Opened, Rxj { catastrophic: true }) => {
                self.layer_down();
                self.restart_count = self.config.max_terminate;
                self.send_terminate(now, b"");
                Stopping
            }
            (Initial | Starting, Rxj { .. }) => state,
        };
        if !matches!(self.state, Closing | Stopping | ReqSent | AckRcvd | AckSent) {
            self.deadline = None;
        }
    }

    /// irc + scr from a state that was not negotiating.
    fn begin(&mut self, now: Instant) {
        self.policy.reset();
        self.restart_count = self.config.max_configure;
        self.failure_count = 0;
        self.send_configure_request(now);
    }

    /// sca / scn for a judged request; returns the state the table gives in
    /// Req-Sent/Ack-Sent/Stopped/Opened (Ack-Sent after an Ack, Req-Sent
    /// after a Nak or Reject).
    fn answer(&mut self, verdict: Verdict, id: u8, request: Vec<u8>) -> State {
        let (code, options) = match verdict {
            Verdict::Ack => {
                self.failure_count = 0;
                self.transmit.push_back(Packet::new(code::CONF_ACK, id, request));
                return State::AckSent;
            }
            Verdict::Nak(options) => {
                self.failure_count = self.failure_count.saturating_add(1);
                (code::CONF_NAK, options)
            }
            Verdict::Reject(options) => (code::CONF_REJ, options),
        };
        if let Ok(data) = ConfOption::list_to_bytes(&options) {
            self.transmit.push_back(Packet::new(code, id, data));
        }
        State::ReqSent
    }

    fn peek_reply_id(&self) -> u8 {
        self.last_request.as_ref().map_or(0, |(id, _)| *id)
    }

    /// scr: a Configure-Request with a fresh Identifier; restarts the timer.
    fn send_configure_request(&mut self, now: Instant) {
        let options = self.policy.request_options();
        let data = ConfOption::list_to_bytes(&options).unwrap_or_default();
        let id = self.take_identifier();
        self.transmit.push_back(Packet::new(code::CONF_REQ, id, data.clone()));
        self.last_request = Some((id, data));
        self.restart_count = self.restart_count.saturating_sub(1);
        self.deadline = Some(now + self.config.restart);
    }

    /// str: a Terminate-Request; restarts the timer.
    fn send_terminate(&mut self, now: Instant, reason: &[u8]) {
        self.term_id = self.take_identifier();
        self.transmit.push_back(Packet::new(code::TERM_REQ, self.term_id, reason.to_vec()));
        self.restart_count = self.restart_count.saturating_sub(1);
        self.deadline = Some(now + self.config.restart);
    }

    /// sta.
    fn send_terminate_ack(&mut self, id: u8) {
        self.transmit.push_back(Packet::new(code::TERM_ACK, id, Vec::new()));
    }

    /// scj: the rejected packet, truncated so the reply is no longer than
    /// the default MRU of 1500 octets (RFC 1661 §5.6).
    fn send_code_reject(&mut self, mut rejected: Vec<u8>) {
        rejected.truncate(1496);
        let id = self.take_identifier();
        self.transmit.push_back(Packet::new(code::CODE_REJ, id, rejected));
    }

    /// tlu, entering Opened.
    fn layer_up(&mut self) -> State {
        self.events.push_back(FsmEvent::Up);
        State::Opened
    }

    /// tld.
    fn layer_down(&mut self) {
        self.events.push_back(FsmEvent::Down);
    }

    /// tlf, entering `next`.
    fn finished(&mut self, next: State) -> State {
        self.events.push_back(FsmEvent::Finished);
        next
    }
}

/// A source of random numbers for Magic-Numbers and interface identifiers,
/// injected so that cores stay deterministic under test.
pub trait Rng {
    /// The next 32 random bits.
    fn next_u32(&mut self) -> u32;
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }
}

/// SplitMix64: a small deterministic generator, good enough for
/// Magic-Numbers and interface identifiers (which need uniqueness, not
/// secrecy); seed it from the OS in the daemon, from a constant in tests.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl Rng for SplitMix64 {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy that requests one option (type 1, data [v]) and accepts
    /// a peer's type-1 option only when its value is 7.
    #[derive(Debug, Default)]
    struct Toy {
        value: u8,
        rejected: bool,
        acked: bool,
        resets: u32,
    }

    impl ConfigPolicy for Toy {
        fn protocol(&self) -> u16 {
            0x8021
        }
        fn reset(&mut self) {
            self.resets += 1;
            self.acked = false;
        }
        fn request_options(&mut self) -> Vec<ConfOption> {
            if self.rejected {
                vec![]
            } else {
                vec![ConfOption::new(1, vec![self.value])]
            }
        }
        fn judge_request(&mut self, options: &[ConfOption]) -> Verdict {
            let bad: Vec<ConfOption> = options.iter().filter(|o| o.kind != 1).cloned().collect();
            if !bad.is_empty() {
                return Verdict::Reject(bad);
            }
            if options.iter().any(|o| o.data != [7]) {
                return Verdict::Nak(vec![ConfOption::new(1, vec![7])]);
            }
            Verdict::Ack
        }
        fn apply_ack(&mut self, _: &[ConfOption]) {
            self.acked = true;
        }
        fn apply_nak(&mut self, options: &[ConfOption]) {
            if let Some(o) = options.first() {
                self.value = o.data.first().copied().unwrap_or(0);
            }
        }
        fn apply_reject(&mut self, _: &[ConfOption]) {
            self.rejected = true;
        }
    }

    fn drain(fsm: &mut Fsm<Toy>) -> Vec<Packet> {
        std::iter::from_fn(|| fsm.poll_transmit()).collect()
    }

    fn events(fsm: &mut Fsm<Toy>) -> Vec<FsmEvent> {
        std::iter::from_fn(|| fsm.poll_event()).collect()
    }

    fn opened_pair(t: Instant) -> Fsm<Toy> {
        let mut fsm = Fsm::new(Toy { value: 7, ..Toy::default() }, FsmConfig::default());
        fsm.open(t);
        fsm.up(t);
        let req = drain(&mut fsm).remove(0);
        fsm.handle_packet(t, &Packet::new(code::CONF_ACK, req.identifier, req.data));
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 50, vec![1, 3, 7]));
        assert_eq!(fsm.state(), State::Opened);
        fsm
    }

    #[test]
    fn open_up_sends_request_and_retransmits_then_gives_up() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(Toy { value: 7, ..Toy::default() }, FsmConfig::default());
        fsm.open(t0);
        assert_eq!(fsm.state(), State::Starting);
        assert_eq!(events(&mut fsm), [FsmEvent::Starting]);
        fsm.up(t0);
        assert_eq!(fsm.state(), State::ReqSent);
        let first = drain(&mut fsm);
        assert_eq!(first, [Packet::new(code::CONF_REQ, 1, vec![1, 3, 7])]);
        assert_eq!(fsm.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        // Early wake-up: nothing.
        fsm.handle_timeout(t0 + Duration::from_secs(2));
        assert!(drain(&mut fsm).is_empty());
        let mut t = t0;
        for n in 2..=10u8 {
            t = fsm.poll_timeout().unwrap();
            fsm.handle_timeout(t);
            assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_REQ, n, vec![1, 3, 7])]);
        }
        // Max-Configure (10) requests sent: the next timeout is TO-.
        fsm.handle_timeout(fsm.poll_timeout().unwrap());
        assert_eq!(fsm.state(), State::Stopped);
        assert_eq!(events(&mut fsm), [FsmEvent::Finished]);
        assert_eq!(fsm.poll_timeout(), None);
        assert_eq!(t, t0 + Duration::from_secs(27));
    }

    #[test]
    fn ack_with_wrong_identifier_or_data_is_ignored() {
        let t = Instant::now();
        let mut fsm = Fsm::new(Toy { value: 7, ..Toy::default() }, FsmConfig::default());
        fsm.up(t);
        fsm.open(t);
        drain(&mut fsm);
        fsm.handle_packet(t, &Packet::new(code::CONF_ACK, 9, vec![1, 3, 7]));
        fsm.handle_packet(t, &Packet::new(code::CONF_ACK, 1, vec![1, 3, 8]));
        assert_eq!(fsm.state(), State::ReqSent);
        fsm.handle_packet(t, &Packet::new(code::CONF_ACK, 1, vec![1, 3, 7]));
        assert_eq!(fsm.state(), State::AckRcvd);
        assert!(fsm.policy().acked);
    }

    #[test]
    fn nak_then_reject_paths() {
        let t = Instant::now();
        let mut fsm = Fsm::new(Toy { value: 1, ..Toy::default() }, FsmConfig::default());
        fsm.up(t);
        fsm.open(t);
        drain(&mut fsm);
        fsm.handle_packet(t, &Packet::new(code::CONF_NAK, 1, vec![1, 3, 9]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_REQ, 2, vec![1, 3, 9])]);
        // A Reject naming an option we did not send is ignored.
        fsm.handle_packet(t, &Packet::new(code::CONF_REJ, 2, vec![1, 3, 1]));
        assert!(drain(&mut fsm).is_empty());
        fsm.handle_packet(t, &Packet::new(code::CONF_REJ, 2, vec![1, 3, 9]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_REQ, 3, vec![])]);
        assert_eq!(fsm.state(), State::ReqSent);
    }

    #[test]
    fn peer_requests_get_ack_nak_reject_and_naks_turn_into_rejects_after_max_failure() {
        let t = Instant::now();
        let mut fsm = Fsm::new(Toy { value: 7, ..Toy::default() }, FsmConfig::default());
        fsm.up(t);
        fsm.open(t);
        drain(&mut fsm);
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 40, vec![2, 2]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_REJ, 40, vec![2, 2])]);
        for id in 0..5 {
            fsm.handle_packet(t, &Packet::new(code::CONF_REQ, id, vec![1, 3, 5]));
            assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_NAK, id, vec![1, 3, 7])]);
        }
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 5, vec![1, 3, 5]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_REJ, 5, vec![1, 3, 5])]);
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 6, vec![1, 3, 7]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CONF_ACK, 6, vec![1, 3, 7])]);
        assert_eq!(fsm.state(), State::AckSent);
        // Unparseable options are discarded.
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 7, vec![1, 9]));
        assert!(drain(&mut fsm).is_empty());
    }

    #[test]
    fn both_orders_reach_opened_with_one_up_event() {
        let t = Instant::now();
        let mut fsm = opened_pair(t);
        assert_eq!(events(&mut fsm), [FsmEvent::Starting, FsmEvent::Up]);
        assert_eq!(fsm.poll_timeout(), None);
        // Ack-Sent first, then Ack.
        let mut other = Fsm::new(Toy { value: 7, ..Toy::default() }, FsmConfig::default());
        other.up(t);
        other.open(t);
        drain(&mut other);
        other.handle_packet(t, &Packet::new(code::CONF_REQ, 3, vec![1, 3, 7]));
        assert_eq!(other.state(), State::AckSent);
        other.handle_packet(t, &Packet::new(code::CONF_ACK, 1, vec![1, 3, 7]));
        assert_eq!(other.state(), State::Opened);
        assert_eq!(events(&mut other), [FsmEvent::Up]);
    }

    #[test]
    fn terminate_request_in_opened_waits_one_restart_period() {
        let t = Instant::now();
        let mut fsm = opened_pair(t);
        events(&mut fsm);
        drain(&mut fsm);
        fsm.handle_packet(t, &Packet::new(code::TERM_REQ, 77, b"bye".to_vec()));
        assert_eq!(drain(&mut fsm), [Packet::new(code::TERM_ACK, 77, vec![])]);
        assert_eq!(fsm.state(), State::Stopping);
        assert_eq!(events(&mut fsm), [FsmEvent::Down]);
        fsm.handle_timeout(t + Duration::from_secs(3));
        assert_eq!(fsm.state(), State::Stopped);
        assert_eq!(events(&mut fsm), [FsmEvent::Finished]);
    }

    #[test]
    fn close_sends_max_terminate_requests_then_finishes() {
        let t = Instant::now();
        let mut fsm = opened_pair(t);
        events(&mut fsm);
        drain(&mut fsm);
        fsm.close(t, b"admin");
        assert_eq!(fsm.state(), State::Closing);
        assert_eq!(events(&mut fsm), [FsmEvent::Down]);
        let term = drain(&mut fsm);
        assert_eq!(term.len(), 1);
        assert_eq!((term[0].code, term[0].data.as_slice()), (code::TERM_REQ, &b"admin"[..]));
        fsm.handle_timeout(t + Duration::from_secs(3));
        assert_eq!(drain(&mut fsm).len(), 1);
        fsm.handle_timeout(t + Duration::from_secs(6));
        assert!(drain(&mut fsm).is_empty());
        assert_eq!(fsm.state(), State::Closed);
        assert_eq!(events(&mut fsm), [FsmEvent::Finished]);
        // Closed answers any request with Terminate-Ack.
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 9, vec![1, 3, 7]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::TERM_ACK, 9, vec![])]);
        fsm.down(t);
        assert_eq!(fsm.state(), State::Initial);
    }

    #[test]
    fn renegotiation_from_opened_and_unknown_codes() {
        let t = Instant::now();
        let mut fsm = opened_pair(t);
        events(&mut fsm);
        drain(&mut fsm);
        fsm.handle_packet(t, &Packet::new(12, 4, vec![0xAB]));
        assert_eq!(drain(&mut fsm), [Packet::new(code::CODE_REJ, 2, vec![12, 4, 0, 5, 0xAB])]);
        fsm.handle_packet(t, &Packet::new(code::CONF_REQ, 60, vec![1, 3, 7]));
        assert_eq!(events(&mut fsm), [FsmEvent::Down]);
        let out = drain(&mut fsm);
        assert_eq!(out.iter().map(|p| p.code).collect::<Vec<_>>(), [code::CONF_REQ, code::CONF_ACK]);
        assert_eq!(fsm.state(), State::AckSent);
        // A Code-Reject of Configure-Request is catastrophic (RXJ-).
        fsm.handle_packet(t, &Packet::new(code::CODE_REJ, 1, vec![1, 4, 0, 4]));
        assert_eq!(fsm.state(), State::Stopped);
        assert_eq!(events(&mut fsm), [FsmEvent::Finished]);
    }

    #[test]
    fn lower_layer_down_in_opened() {
        let t = Instant::now();
        let mut fsm = opened_pair(t);
        events(&mut fsm);
        fsm.down(t);
        assert_eq!(fsm.state(), State::Starting);
        assert_eq!(events(&mut fsm), [FsmEvent::Down]);
        assert_eq!(fsm.poll_timeout(), None);
        fsm.up(t);
        assert_eq!(fsm.state(), State::ReqSent);
        assert_eq!(fsm.policy().resets, 2);
    }

    #[test]
    fn splitmix_is_deterministic() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u32(), a.next_u32());
    }
}
