//! The UDP intake's decoder: one datagram's bytes into events, as `UdpIntake::drain` calls
//! it for every datagram a handler sends to 127.0.0.1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch::protocol::decode_datagram;

fuzz_target!(|data: &[u8]| {
    decode_datagram(data, |_event| {});
});
