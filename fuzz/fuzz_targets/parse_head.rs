//! Fuzzes `parse_head` and `HeadParser`: no panic, incremental = one-shot, and a
//! parser fed the input in pieces gives what `parse_head` gives on each. The first
//! byte picks tight or default limits; the second picks a split point and piece size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wordwire::http::{HeadLimits, HeadParser, Progress, parse_head};

fuzz_target!(|data: &[u8]| {
    let [mode, split, input @ ..] = data else {
        return;
    };
    let limits = if mode & 1 == 0 {
        HeadLimits {
            max_line: 8192,
            max_header_bytes: 16384,
            max_body: 8192,
        }
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
        (
            Ok(Progress::Done { consumed, value }),
            Ok(Progress::Done {
                consumed: c,
                value: v,
            }),
        ) => {
            assert!(end >= *consumed, "a proper prefix of a head was complete");
            assert_eq!((consumed, value), (c, v));
        }
        _ => panic!("prefix gave {prefix:?}, whole gave {whole:?}"),
    }
    if let Ok(Progress::Done { consumed, .. }) = &whole {
        assert!(*consumed <= input.len());
    }
    let mut parser = HeadParser::counting();
    let step = usize::from(*split % 16) + 1;
    let mut end = 0;
    loop {
        end = (end + step).min(input.len());
        let fed = parser.parse(&input[..end], &limits);
        assert_eq!(
            fed,
            parse_head(&input[..end], &limits),
            "fed {step} bytes at a time, {end} so far"
        );
        if fed != Ok(Progress::NeedMore) || end == input.len() {
            break;
        }
    }
    // A bounded number of looks per byte (a trickled head is not re-parsed from its start).
    assert!(
        parser.examined() <= 4 * input.len() + 4,
        "looked at {} of {} bytes",
        parser.examined(),
        input.len()
    );
});
