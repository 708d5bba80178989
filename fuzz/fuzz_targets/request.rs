//! Fuzzes parser + chunked decoder + handler composed as the connection loop
//! composes them, without sockets (see `wordwire_fuzz::model`): no panic, every
//! step consumes bytes, statuses are in range. The first byte `A` turns on
//! `--auth-all`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = wordwire_fuzz::model(data, data.first() == Some(&b'A'));
    assert!(model.writes <= model.requests);
});
