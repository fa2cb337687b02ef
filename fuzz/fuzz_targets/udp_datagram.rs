//! The UDP intake's decoder: one datagram's bytes into events, as `UdpIntake::drain` calls
//! it for every datagram a handler sends to 127.0.0.1. Each line is also read by the
//! general decoder alone: the fast path for the SDK's own encoding must give the same
//! answer (the value's sign included) for every line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch::protocol::{decode_datagram, decode_line, decode_line_general};

fuzz_target!(|data: &[u8]| {
    decode_datagram(data, |_event| {});
    if data.len() <= liftwatch::protocol::MAX_DATAGRAM_BYTES {
        for line in data.split(|&b| b == b'\n') {
            if let Ok(line) = std::str::from_utf8(line) {
                let fast = format!("{:?}", decode_line(line));
                let general = format!("{:?}", decode_line_general(line));
                assert_eq!(fast, general, "{line}");
            }
        }
    }
});
