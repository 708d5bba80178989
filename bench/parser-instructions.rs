//! The driver of `bench/parser-instructions.sh`: parses one input of
//! `benches/parser/inputs.rs` N times, with wordwire or with httparse, for
//! callgrind to count the instructions. Built by the script against any
//! checkout of wordwire whose `http` module has `parse_head`, `HeadLimits`,
//! `Progress` and `Framing` (959d355 and later).
//!
//! Usage: `parser-instructions wordwire|headparser|httparse INPUT N`; INPUT is a
//! name from `inputs::all()`, N = 0 is the empty run the script subtracts.
//! Built with the `head-parser` feature (which the script turns on, in a second
//! build, for checkouts that have `HeadParser`) it has `headparser` instead of
//! `wordwire`: the same heads through one `HeadParser`, as the connection parses
//! them. One wordwire entry point per binary, as in `cargo bench`'s: with fat LTO
//! a second caller of the parser changes what is inlined into the first.

use std::hint::black_box;
use std::process::ExitCode;

#[path = "../benches/parser/inputs.rs"]
#[cfg_attr(feature = "head-parser", allow(dead_code))]
mod inputs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [parser, name, count] = &args[..] else {
        eprintln!("usage: parser-instructions wordwire|headparser|httparse INPUT N");
        return ExitCode::from(2);
    };
    let parse: fn(&[u8]) -> usize = match parser.as_str() {
        #[cfg(not(feature = "head-parser"))]
        "wordwire" => inputs::ours,
        "httparse" => inputs::theirs,
        #[cfg(feature = "head-parser")]
        "headparser" => head_parser,
        other => {
            eprintln!("unknown parser {other:?}: wordwire or httparse");
            return ExitCode::from(2);
        }
    };
    let Some((_, input, requests)) = inputs::all().into_iter().find(|(n, ..)| n == name) else {
        eprintln!("unknown input {name:?}");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("N is a count: {count:?}");
        return ExitCode::from(2);
    };
    for _ in 0..count {
        if parse(black_box(&input)) != requests {
            eprintln!("{name}: {parser} did not find {requests} requests");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `inputs::ours` through one `HeadParser`, each head arriving whole.
#[cfg(feature = "head-parser")]
fn head_parser(input: &[u8]) -> usize {
    let mut parser = wordwire::http::HeadParser::default();
    inputs::each_head(input, |rest| parser.parse(rest, &inputs::LIMITS))
}
