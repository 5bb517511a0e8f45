//! What the daemons' control sockets share (prol2tpd, propppd, proacd):
//! reading one request from the [`ipc::Server`] and deciding the replies
//! every daemon gives alike before it looks at the request.
//!
//! Each datagram carries its sender's uid (SO_PASSCRED); only root and the
//! daemon's own user are answered (`Denied` for others), a message that is
//! not a request gets `BadRequest`, one that does not decode `Unsupported`
//! with the decoder's words. What a request does is each daemon's own.

use std::io;

use crate::ipc::{self, Body, ErrorCode, Message, Peer, Record, Reply, Request};

/// One datagram read from a control socket ([`recv_request`]).
#[derive(Debug)]
pub struct Incoming {
    /// Who sent it: where the replies go.
    pub peer: Peer,
    /// The request id the replies carry (0 when the message is too short
    /// to hold one).
    pub request_id: u32,
    /// The request to answer, or the error reply already decided (see the
    /// module documentation).
    pub request: Result<Request, Reply>,
}

/// Reads one datagram from `server` into `buf` without waiting
/// (`Ok(None)`: nothing is waiting). `buf` should hold
/// [`ipc::MAX_DATAGRAM`] octets. Errors: the socket's.
pub fn recv_request(server: &ipc::Server, buf: &mut [u8]) -> io::Result<Option<Incoming>> {
    let Some(got) = server.recv(buf)? else { return Ok(None) };
    let data = buf.get(..got.len).unwrap_or_default();
    let (request_id, request) = match Message::decode(data) {
        _ if !uid_allowed(got.uid) => (request_id_of(data), Err(error(ErrorCode::Denied, "permission denied"))),
        Ok(Message { request_id, body: Body::Request(req) }) => (request_id, Ok(req)),
        Ok(m) => (m.request_id, Err(error(ErrorCode::BadRequest, "not a request"))),
        Err(e) => (request_id_of(data), Err(error(ErrorCode::Unsupported, &e.to_string()))),
    };
    Ok(Some(Incoming { peer: got.peer, request_id, request }))
}

/// True for root and the daemon's own user.
fn uid_allowed(uid: Option<u32>) -> bool {
    uid.is_some_and(|u| u == 0 || u == nix::unistd::geteuid().as_raw())
}

/// The request id field of a message that did not decode (octets 12..16
/// of the header), 0 when it is too short.
fn request_id_of(data: &[u8]) -> u32 {
    data.get(12..16).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes).unwrap_or(0)
}

/// An `Error` reply.
pub fn error(code: ErrorCode, message: &str) -> Reply {
    Reply::Error { code, message: message.to_string() }
}

/// A `Records` reply in one part (for lists that may not fit one datagram
/// use [`ipc::split_records`]).
pub fn records(records: Vec<Record>) -> Reply {
    Reply::Records { more: false, records }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_of_short_and_long_data() {
        assert_eq!(request_id_of(&[0; 15]), 0);
        let mut d = [0u8; 16];
        d[12..16].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        assert_eq!(request_id_of(&d), 0x0102_0304);
    }

    #[test]
    fn requests_and_refusals_are_told_apart() {
        let path = std::env::temp_dir().join(format!("control-test-{}", std::process::id())).join("ctl");
        let server = ipc::Server::bind(&path).unwrap();
        // Bound: an unnamed sender is a case of its own (see ipc::Server::recv).
        let client = std::os::unix::net::UnixDatagram::bind(path.with_file_name("cli")).unwrap();
        let send = |m: Message| client.send_to(&m.encode().unwrap(), &path).unwrap();
        send(Message { request_id: 7, body: Body::Request(Request::ShowSystem) });
        send(Message { request_id: 8, body: Body::Reply(Reply::Done) });
        let mut junk = [0xffu8; 16];
        junk[12..16].copy_from_slice(&9u32.to_be_bytes());
        client.send_to(&junk, &path).unwrap();

        let mut buf = vec![0u8; ipc::MAX_DATAGRAM];
        let mut next = || recv_request(&server, &mut buf).unwrap().unwrap();
        let a = next();
        assert_eq!((a.request_id, a.request), (7, Ok(Request::ShowSystem)));
        let b = next();
        assert_eq!((b.request_id, b.request), (8, Err(error(ErrorCode::BadRequest, "not a request"))));
        let c = next();
        assert_eq!(c.request_id, 9);
        assert!(matches!(c.request, Err(Reply::Error { code: ErrorCode::Unsupported, .. })), "{:?}", c.request);
        assert!(recv_request(&server, &mut buf).unwrap().is_none());
        drop(server);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn own_user_and_root_only() {
        assert!(uid_allowed(Some(0)));
        assert!(uid_allowed(Some(nix::unistd::geteuid().as_raw())));
        assert!(!uid_allowed(None));
        if !nix::unistd::geteuid().is_root() {
            assert!(!uid_allowed(Some(nix::unistd::geteuid().as_raw() + 1)));
        } else {
            assert!(!uid_allowed(Some(65_534)));
        }
    }
}
