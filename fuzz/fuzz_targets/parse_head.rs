//! Fuzzes `parse_head`: no panic, and incremental = one-shot. The first byte
//! picks tight or default limits; the second picks a split point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wordwire::http::{HeadLimits, Progress, parse_head};

fuzz_target!(|data: &[u8]| {
    let [mode, split, input @ ..] = data else {
        return;
    };
    let limits = if mode & 1 == 0 {
        HeadLimits { max_line: 8192, max_header_bytes: 16384, max_body: 8192 }
    } else {
        HeadLimits {
            max_line: usize::from(mode >> 1) % 64 + 1,
            max_header_bytes: usize::from(*split) + 1,
            max_body: 16,
        }
    };
    let whole = parse_head(input, &limits);
    let end = usize::from(*split) * input.len() / 256;
    let prefix = parse_head(&input[..end], &limits);
    match (&whole, &prefix) {
        (_, Ok(Progress::NeedMore)) => {}
        (Err(w), Err(p)) => assert_eq!(w, p, "a prefix was rejected differently"),
        (Ok(Progress::Done { consumed, value }), Ok(Progress::Done { consumed: c, value: v })) => {
            assert!(end >= *consumed, "a proper prefix of a head was complete");
            assert_eq!((consumed, value), (c, v));
        }
        _ => panic!("prefix gave {prefix:?}, whole gave {whole:?}"),
    }
    if let Ok(Progress::Done { consumed, .. }) = whole {
        assert!(consumed <= input.len());
    }
});
