//! Fuzz target: `AvpIter` must never panic, must stop after an error, and the
//! AVPs it yields must re-encode to the same octets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prol2tp::proto::avp::{write_avp, AvpIter};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut consumed = 0usize;
    let mut failed = false;
    for item in AvpIter::new(data) {
        assert!(!failed, "AvpIter yielded after an error");
        match item {
            Ok(a) if !a.reserved_bits => {
                write_avp(
                    &mut out,
                    a.mandatory,
                    a.hidden,
                    a.vendor_id,
                    a.attr_type,
                    a.value,
                );
                consumed += 6 + a.value.len();
                assert_eq!(&out[..], &data[..consumed]);
            }
            Ok(a) => {
                // Reserved bits are not re-encoded; skip the comparison.
                out.extend_from_slice(&data[consumed..consumed + 6 + a.value.len()]);
                consumed += 6 + a.value.len();
            }
            Err(_) => failed = true,
        }
    }
});
