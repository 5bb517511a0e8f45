//! The event loop: one `polling::Poller` (epoll) over every fd of a daemon.
//!
//! A daemon registers each socket, the signal fd ([`crate::signal`]) and any
//! other fd under a `usize` key of its choosing, then loops:
//!
//! ```text
//! loop {
//!     let ready = evloop.wait(timers.next_deadline())?;
//!     for r in ready { dispatch(r.key, r.readable, r.writable) }
//!     timers.expire(Instant::now(), &mut due); ...
//! }
//! ```
//!
//! # Level-triggered, persistent interest
//!
//! Registrations are level-triggered (`PollMode::Level`): an fd is reported
//! in every [`EventLoop::wait`] for as long as it stays readable (or
//! writable, if asked). Callers see persistent interest and need not re-arm
//! after each event (polling v3's default oneshot mode is not used), and a
//! handler that reads only part of what is queued is simply called again.
//! Writable interest should be enabled only while output is queued
//! ([`EventLoop::modify`]), or the loop spins.
//!
//! Error and hang-up conditions are reported as readable (the next read
//! returns the error or end of file). Interest in nothing
//! ([`Interest::NONE`]) is armed one-shot so that a hung-up fd cannot make
//! the loop spin; its events are never reported.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Instant;

use polling::{Event, Events, PollMode, Poller};

/// What a registration waits for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Interest {
    /// Report the fd when it is readable (or in error / hung up).
    pub readable: bool,
    /// Report the fd when it is writable.
    pub writable: bool,
}

impl Interest {
    /// Readable only: the usual interest of sockets and the signal fd.
    pub const READABLE: Interest = Interest { readable: true, writable: false };
    /// Writable only.
    pub const WRITABLE: Interest = Interest { readable: false, writable: true };
    /// Readable and writable.
    pub const BOTH: Interest = Interest { readable: true, writable: true };
    /// Nothing: the fd stays registered (and keeps its key) but is never
    /// reported.
    pub const NONE: Interest = Interest { readable: false, writable: false };

    /// The polling event and mode for this interest.
    fn event(self, key: usize) -> (Event, PollMode) {
        let mode = if self == Interest::NONE { PollMode::Oneshot } else { PollMode::Level };
        (Event::new(key, self.readable, self.writable), mode)
    }
}

/// One ready fd, as returned by [`EventLoop::wait`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ready {
    /// The key the fd was registered under.
    pub key: usize,
    /// Readable, in error or hung up (only if readable interest was set).
    pub readable: bool,
    /// Writable (only if writable interest was set).
    pub writable: bool,
}

/// A level-triggered poller over fds keyed by `usize` (see the module
/// documentation).
pub struct EventLoop {
    poller: Poller,
    events: Events,
    ready: Vec<Ready>,
    /// Interest of each registered key.
    interests: HashMap<usize, Interest>,
    /// Key of each registered fd.
    keys: HashMap<RawFd, usize>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop").field("registered", &self.interests.len()).finish()
    }
}

impl EventLoop {
    /// Creates the poller (an epoll fd, plus polling's internal notify and
    /// timer fds).
    ///
    /// # Errors
    /// The OS error of `epoll_create1` and friends (e.g. `EMFILE`).
    pub fn new() -> io::Result<EventLoop> {
        Ok(EventLoop { poller: Poller::new()?, events: Events::new(), ready: Vec::new(), interests: HashMap::new(), keys: HashMap::new() })
    }

    /// Registers `fd` under `key` with `interest`. The fd must be
    /// [`EventLoop::deregister`]ed before it is closed (otherwise, if a
    /// duplicate of it stays open, stale events with its key keep coming).
    ///
    /// # Errors
    /// `AlreadyExists` if `key` or `fd` is already registered;
    /// `InvalidInput` for `key == usize::MAX` (reserved by `polling`); the OS
    /// error of `epoll_ctl`.
    pub fn register(&mut self, fd: BorrowedFd<'_>, key: usize, interest: Interest) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        if self.interests.contains_key(&key) || self.keys.contains_key(&raw) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("fd {raw} or key {key} already registered")));
        }
        if key == usize::MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "key usize::MAX is reserved"));
        }
        let (event, mode) = interest.event(key);
        // SAFETY: polling requires the source to be deleted before it is
        // closed. With epoll, breaking that rule is not memory-unsafe: the
        // kernel drops the registration when the last reference to the open
        // file goes away, and a duplicate left open only yields events under
        // a stale key, which callers must treat as a no-op anyway. The
        // documented contract asks callers to deregister first.
        unsafe { self.poller.add_with_mode(raw, event, mode)? };
        self.interests.insert(key, interest);
        self.keys.insert(raw, key);
        Ok(())
    }

    /// Changes the interest of a registered fd (keeping its key).
    ///
    /// # Errors
    /// `NotFound` if `fd` is not registered; the OS error of `epoll_ctl`.
    pub fn modify(&mut self, fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let key = self.key_of(fd)?;
        let (event, mode) = interest.event(key);
        self.poller.modify_with_mode(fd, event, mode)?;
        self.interests.insert(key, interest);
        Ok(())
    }

    /// Removes `fd` from the loop; call before closing it. Events of it
    /// already returned by the last [`EventLoop::wait`] stay in that slice.
    ///
    /// # Errors
    /// `NotFound` if `fd` is not registered; the OS error of `epoll_ctl`
    /// (the registration is forgotten even then).
    pub fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let key = self.key_of(fd)?;
        self.keys.remove(&fd.as_raw_fd());
        self.interests.remove(&key);
        self.poller.delete(fd)
    }

    /// The key `fd` is registered under.
    fn key_of(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        let raw = fd.as_raw_fd();
        self.keys.get(&raw).copied().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("fd {raw} not registered")))
    }

    /// Number of registered fds.
    pub fn len(&self) -> usize {
        self.interests.len()
    }

    /// True when no fd is registered.
    pub fn is_empty(&self) -> bool {
        self.interests.is_empty()
    }

    /// Waits until at least one registered fd is ready or `deadline` passes
    /// (`None`: no deadline; a deadline in the past: just poll), and returns
    /// the ready fds, each key at most once, in the kernel's order.
    ///
    /// The deadline has nanosecond resolution (polling arms a timerfd), so
    /// the call does not return early because of millisecond rounding; it
    /// may still return early with an empty slice (e.g. a signal), which the
    /// caller treats like any wake-up: expire due timers, then wait again.
    ///
    /// # Errors
    /// The OS error of `epoll_wait` (`EINTR` is retried inside).
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<&[Ready]> {
        self.events.clear();
        self.ready.clear();
        match deadline {
            Some(d) => self.poller.wait_deadline(&mut self.events, d)?,
            None => self.poller.wait(&mut self.events, None)?,
        };
        for ev in self.events.iter() {
            let Some(interest) = self.interests.get(&ev.key) else {
                continue; // deregistered since: stale
            };
            let r = Ready { key: ev.key, readable: ev.readable && interest.readable, writable: ev.writable && interest.writable };
            if r.readable || r.writable {
                self.ready.push(r);
            }
        }
        Ok(&self.ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn timeout_is_honoured() {
        let mut ev = EventLoop::new().unwrap();
        let (a, _b) = pair();
        ev.register(a.as_fd(), 1, Interest::READABLE).unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(30);
        let ready = ev.wait(Some(deadline)).unwrap();
        assert!(ready.is_empty());
        assert!(Instant::now() >= deadline, "woke before the deadline");
        assert!(start.elapsed() < Duration::from_secs(5));
        // A past deadline polls without blocking.
        let ready = ev.wait(Some(start)).unwrap();
        assert!(ready.is_empty());
    }

    #[test]
    fn readable_is_reported_until_drained() {
        let mut ev = EventLoop::new().unwrap();
        let (mut a, mut b) = pair();
        ev.register(a.as_fd(), 7, Interest::READABLE).unwrap();
        assert_eq!(ev.len(), 1);
        b.write_all(b"hello").unwrap();
        let expect = [Ready { key: 7, readable: true, writable: false }];
        assert_eq!(ev.wait(None).unwrap(), &expect);
        // Level-triggered: still reported, no re-arm needed.
        let far = Instant::now() + Duration::from_secs(5);
        assert_eq!(ev.wait(Some(far)).unwrap(), &expect);
        let mut buf = [0u8; 16];
        assert_eq!(a.read(&mut buf).unwrap(), 5);
        assert!(ev.wait(Some(Instant::now())).unwrap().is_empty());
        // And again after new data.
        b.write_all(b"x").unwrap();
        assert_eq!(ev.wait(Some(far)).unwrap(), &expect);
    }

    #[test]
    fn writable_modify_and_deregister() {
        let mut ev = EventLoop::new().unwrap();
        let (a, mut b) = pair();
        ev.register(a.as_fd(), 3, Interest::BOTH).unwrap();
        let ready = ev.wait(Some(Instant::now() + Duration::from_secs(5))).unwrap();
        assert_eq!(ready, &[Ready { key: 3, readable: false, writable: true }]);
        ev.modify(a.as_fd(), Interest::NONE).unwrap();
        b.write_all(b"data").unwrap();
        assert!(ev.wait(Some(Instant::now())).unwrap().is_empty());
        ev.modify(a.as_fd(), Interest::READABLE).unwrap();
        let ready = ev.wait(Some(Instant::now() + Duration::from_secs(5))).unwrap();
        assert_eq!(ready.len(), 1);
        assert!(ready[0].readable && !ready[0].writable);
        ev.deregister(a.as_fd()).unwrap();
        assert!(ev.is_empty());
        assert!(ev.wait(Some(Instant::now())).unwrap().is_empty());
        assert_eq!(ev.deregister(a.as_fd()).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(ev.modify(a.as_fd(), Interest::READABLE).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn hangup_reports_readable_and_none_does_not_spin() {
        let mut ev = EventLoop::new().unwrap();
        let (a, b) = pair();
        let (c, d) = pair();
        ev.register(a.as_fd(), 1, Interest::READABLE).unwrap();
        ev.register(c.as_fd(), 2, Interest::NONE).unwrap();
        drop(b);
        drop(d);
        let ready = ev.wait(Some(Instant::now() + Duration::from_secs(5))).unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].key, 1);
        assert!(ready[0].readable);
        ev.deregister(a.as_fd()).unwrap();
        // The hung-up fd with no interest is not reported.
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(ev.wait(Some(deadline)).unwrap().is_empty());
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn duplicate_registrations_are_refused() {
        let mut ev = EventLoop::new().unwrap();
        let (a, b) = pair();
        ev.register(a.as_fd(), 1, Interest::READABLE).unwrap();
        let e = ev.register(b.as_fd(), 1, Interest::READABLE).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let e = ev.register(a.as_fd(), 2, Interest::READABLE).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let e = ev.register(b.as_fd(), usize::MAX, Interest::READABLE).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn signal_fd_wakes_the_loop() {
        let mut sig = crate::signal::Signals::new().unwrap();
        let mut ev = EventLoop::new().unwrap();
        ev.register(sig.as_fd(), 9, Interest::READABLE).unwrap();
        assert!(ev.wait(Some(Instant::now())).unwrap().is_empty());
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
        let ready = ev.wait(Some(Instant::now() + Duration::from_secs(5))).unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].key, 9);
        assert_eq!(sig.read_all(), vec![crate::signal::Signal::Hup]);
        assert!(ev.wait(Some(Instant::now())).unwrap().is_empty());
    }
}
