//! Fuzz target: `decode` (with and without a secret, so hidden AVPs are
//! revealed) and `validate` must never panic; a decoded message must encode
//! and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prol2tp::proto::header::Version;
use prol2tp::proto::message::{decode, encode, validate, DecodeCtx, EncodeCtx};

fuzz_target!(|data: &[u8]| {
    for secret in [None, Some(&b"fuzz-secret"[..])] {
        let Ok(msg) = decode(data, &DecodeCtx { secret }) else {
            continue;
        };
        let _ = validate(&msg, Version::V2);
        let _ = validate(&msg, Version::V3);
        let mut rng = |b: &mut [u8]| b.fill(0x5a);
        let mut out = Vec::new();
        encode(
            &msg,
            &mut EncodeCtx {
                secret,
                hide: secret.is_some(),
                random: &mut rng,
                digest: None,
            },
            &mut out,
        );
        let mut again = decode(&out, &DecodeCtx { secret }).expect("re-decodes");
        let mut want = msg.clone();
        // Ignored AVPs are not re-encoded; Message Digest is only a placeholder.
        want.avps.ignored.clear();
        want.avps.message_digest = None;
        again.avps.message_digest = None;
        assert_eq!(again, want);
    }
});
