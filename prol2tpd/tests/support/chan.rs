//! A fake PPP side of a `common::channel` connection (propppd, or proacd
//! on the switch socket), playing its part of the contract by hand.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use common::channel::{Channel, ChannelListener, Received};
use common::ipc::{Body, Message, Record, Reply, Request};

use super::{wait_until, Prol2tpd};

/// How long each wait lasts.
pub const WAIT: Duration = Duration::from_secs(20);

/// A fake propppd: the listener and the daemon's connection to it.
pub struct Fake {
    /// Where the daemon connects (`None` when the fake connected itself).
    pub listener: Option<ChannelListener>,
    /// The daemon's connection, once accepted.
    pub chan: Option<Channel>,
}

impl Fake {
    pub fn bind(path: PathBuf) -> Fake {
        let listener = ChannelListener::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        Fake { listener: Some(listener), chan: None }
    }

    /// Waits for the daemon to connect.
    pub fn accept(&mut self, d: &Prol2tpd<'_>) {
        let mut got = None;
        let ok = wait_until(WAIT, || {
            got = self.listener.as_ref().and_then(|l| l.accept().ok().flatten());
            got.is_some()
        });
        assert!(ok, "the daemon did not connect:\n{}", d.log());
        self.chan = got;
        match self.recv(d) {
            (Message { body: Body::Request(Request::ChannelHello { linktype }), .. }, None) => assert_eq!(linktype, "pppoltp"),
            other => panic!("expected ChannelHello first, got {other:?}"),
        }
    }

    /// A fake PPP side that connected to the daemon's socket at `path`
    /// (waits for it to exist).
    pub fn connect(path: &std::path::Path, d: &Prol2tpd<'_>) -> Fake {
        let mut chan = None;
        let ok = wait_until(WAIT, || {
            chan = Channel::connect(path).ok();
            chan.is_some()
        });
        assert!(ok, "cannot connect to {}:\n{}", path.display(), d.log());
        Fake { listener: None, chan }
    }

    pub fn chan(&mut self) -> &mut Channel {
        self.chan.as_mut().unwrap_or_else(|| panic!("not connected"))
    }

    /// The next message, with its fd; panics with the daemon's log after
    /// [`WAIT`].
    pub fn recv(&mut self, d: &Prol2tpd<'_>) -> (Message, Option<OwnedFd>) {
        let mut got = None;
        let chan = self.chan.as_mut().unwrap_or_else(|| panic!("not connected"));
        wait_until(WAIT, || match chan.recv() {
            Received::Message(m, fd) => {
                got = Some((m, fd));
                true
            }
            Received::Nothing => false,
            other => panic!("fake propppd got {other:?}\n{}", d.log()),
        });
        got.unwrap_or_else(|| panic!("nothing came to the fake propppd:\n{}", d.log()))
    }

    /// The next message, which must be a `PppOpen` with an fd.
    pub fn open(&mut self, d: &Prol2tpd<'_>) -> Open {
        match self.recv(d) {
            (Message { body: Body::Request(Request::PppOpen { reference, params }), .. }, Some(fd)) => {
                let sock = UnixDatagram::from(fd);
                sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap_or_else(|e| panic!("{e}"));
                Open { reference, params, sock }
            }
            other => panic!("expected PppOpen with an fd, got {other:?}"),
        }
    }

    /// The next message, which must be `PppClose`; returns its reference.
    pub fn close(&mut self, d: &Prol2tpd<'_>) -> u32 {
        match self.recv(d).0.body {
            Body::Request(Request::PppClose { reference, reason }) => {
                assert!(!reason.is_empty());
                reference
            }
            other => panic!("expected PppClose, got {other:?}"),
        }
    }

    pub fn status(&mut self, reference: u32, fields: &[(&str, &str)]) {
        let mut r = Record::new(common::channel::STATUS_KIND);
        for (k, v) in fields {
            r.str(k, v);
        }
        let m = Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference, record: r }) };
        self.chan().send(&m, None).unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends `req` with `request_id` and returns the reply carrying it.
    pub fn ask(&mut self, d: &Prol2tpd<'_>, request_id: u32, req: Request) -> Reply {
        self.chan().send(&Message { request_id, body: Body::Request(req) }, None).unwrap_or_else(|e| panic!("send: {e}"));
        match self.recv(d) {
            (Message { request_id: id, body: Body::Reply(r) }, None) if id == request_id => r,
            other => panic!("expected the reply to {request_id}, got {other:?}"),
        }
    }
}

/// One `PppOpen` as the fake got it.
pub struct Open {
    /// Its reference.
    pub reference: u32,
    /// Its params.
    pub params: Vec<(String, String)>,
    /// The channel fd.
    pub sock: UnixDatagram,
}

impl Open {
    pub fn get(&self, key: &str) -> &str {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {key} in {:?}", self.params))
    }
}
