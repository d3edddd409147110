//! The trace decoder must turn any bytes into records or a typed error, never a panic, a hang
//! or an unbounded allocation. Both raw input and input behind a valid signature are tried, so
//! the fuzzer reaches the header, footer and record decoders quickly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ruckus_sim::trace::{FORMAT_VERSION, MAGIC, TraceReader};

fn decode(bytes: Vec<u8>) {
    if let Ok(mut reader) = TraceReader::from_bytes("fuzz.trace", bytes) {
        // Bounded: every record consumes at least two bytes of the input.
        while let Ok(Some(_)) = reader.next_event() {}
    }
}

fuzz_target!(|data: &[u8]| {
    decode(data.to_vec());
    let mut signed = MAGIC.to_vec();
    signed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    signed.extend_from_slice(data);
    decode(signed);
});
