//! Fuzzes the protocol between the router and a notifyee host
//! (`mpr_loader::isolation`): the frames a host sends back are a trust
//! boundary (the host runs plugin code).
//!
//! Invariants:
//! - decoding a frame body as a reply (the router's side) or as a request
//!   (the host's side) never panics, and a body that decodes encodes again
//!   to exactly the same bytes (the encoding is canonical: no two byte
//!   strings mean one message);
//! - the frame reader never panics or hangs on any byte stream, and a frame
//!   it accepts is the whole stream: a length that is the rest of the
//!   stream, within the 1 MiB limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpr_loader::isolation::fuzzing::{read_frame, reply_round_trip, request_round_trip};

fuzz_target!(|data: &[u8]| {
    if let Some(again) = reply_round_trip(data) {
        assert_eq!(again, data, "a reply reads back differently");
    }
    if let Some(again) = request_round_trip(data) {
        assert_eq!(again, data, "a request reads back differently");
    }
    if let Some(body) = read_frame(data) {
        assert!(data.len() >= 4, "a frame without its length");
        let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        assert_eq!(len, body.len(), "a frame of another length");
        assert_eq!(&data[4..], &body[..], "a frame that is not the stream");
        assert!(len <= 1 << 20, "a frame over the limit");
    }
});
