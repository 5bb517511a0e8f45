//! Fuzz target: `parse_packet` over both transports must never panic, and a
//! parsed control packet re-emitted must parse to the same header and AVPs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prol2tp::proto::header::{emit_control, parse_packet, Packet, Transport};

fuzz_target!(|data: &[u8]| {
    for transport in [Transport::Udp, Transport::Ip] {
        if let Ok(Packet::Control { header, avps }) = parse_packet(transport, data) {
            let mut out = Vec::new();
            emit_control(transport, &header, avps, &mut out);
            match parse_packet(transport, &out) {
                Ok(Packet::Control { header: h, avps: a }) => {
                    assert_eq!(h, header);
                    assert_eq!(a, avps);
                }
                other => panic!("re-emitted control packet parsed as {other:?}"),
            }
        }
    }
});
