//! Property tests of the record exchange's decoders (issue 11, "gRPC
//! messages from a TaskManager of another version"): a buffer's bytes and its
//! record count both come from the producing TaskManager, so random and
//! mutated buffers, with any count and the [`TIMESTAMPED`] flag either way,
//! are decoded as several record types, and random event bytes as an
//! [`Event`]. Each must answer `Ok` or an error, never panic, and never
//! allocate by the claimed count beyond what the bytes can hold.
//!
//! Seeded (fixed RNG seed, so a failure reproduces), 10 000 cases per property.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rfy_runtime::event::Event;
use rfy_runtime::record::{decode_all, decode_all_timestamped, encode_into, encode_timestamped_into, Word};

const CASES: u32 = 10_000;

fn config(seed: u64) -> Config {
    Config { cases: CASES, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

/// The system allocator, recording the largest single allocation per thread.
struct Recording;

thread_local! {
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Largest allocation made by `f` on this thread, bytes.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(|l| l.get()))
}

/// Most a decode may allocate for a buffer of `len` bytes: room for one
/// record per byte of the largest record type below (a `(String, u64)`,
/// 32 bytes) and its timestamp, plus the strings' contents.
fn bound(len: usize) -> usize {
    64 * len + 4096
}

/// A valid buffer of word-count records, with and without timestamps.
fn valid_buffer(timestamped: bool) -> (Vec<u8>, u32) {
    let mut buf = Vec::new();
    let records = [("in", 1u64), ("the", 2), ("beginning", 3), ("", u64::MAX)];
    for (i, (w, n)) in records.iter().enumerate() {
        let r = (w.to_string(), *n);
        if timestamped {
            encode_timestamped_into(i as i64 * 1000 - 1, &r, &mut buf).unwrap();
        } else {
            encode_into(&r, &mut buf).unwrap();
        }
    }
    (buf, records.len() as u32)
}

/// Random bytes, or a valid buffer with up to 8 bytes changed, then cut or extended.
fn buffer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..256);
    let mutated = (
        any::<bool>(),
        proptest::collection::vec((0..256usize, any::<u8>()), 0..8),
        0..256usize,
        proptest::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(|(ts, edits, cut, tail, truncate)| {
            let (mut b, _) = valid_buffer(ts);
            for (i, v) in edits {
                let n = b.len();
                if let Some(x) = b.get_mut(i % n) {
                    *x = v;
                }
            }
            if truncate {
                b.truncate(cut % (b.len() + 1));
            } else {
                b.extend_from_slice(&tail);
            }
            b
        });
    prop_oneof![random, mutated]
}

/// A record count as a sender may claim it: small, near the truth, or anything.
fn claimed_count() -> impl Strategy<Value = u32> {
    prop_oneof![0..8u32, any::<u32>(), Just(u32::MAX), Just(1u32 << 31 | 4), Just((1u32 << 31) - 1)]
}

/// Decodes `bytes` as a buffer of `T` the way an input gate does.
fn decode_as<T: serde::de::DeserializeOwned>(bytes: &[u8], count: u32) -> bool {
    const TIMESTAMPED: u32 = rfy_runtime::record::TIMESTAMPED;
    let mut out: Vec<T> = Vec::new();
    if count & TIMESTAMPED == 0 {
        decode_all(bytes, count, &mut out).is_ok()
    } else {
        let mut timestamps = Vec::new();
        decode_all_timestamped(bytes, count & !TIMESTAMPED, &mut out, &mut timestamps).is_ok()
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0101))]
    #[test]
    fn record_buffers_decode_or_error(bytes in buffer_bytes(), count in claimed_count()) {
        let (_, largest) = largest_allocation(|| {
            decode_as::<(String, u64)>(&bytes, count);
            decode_as::<(Word, u64)>(&bytes, count);
            decode_as::<u64>(&bytes, count);
            decode_as::<(i64, Vec<u8>)>(&bytes, count);
        });
        prop_assert!(largest <= bound(bytes.len()), "{} bytes allocated for {} bytes claiming {} records",
            largest, bytes.len(), count);
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0102))]
    #[test]
    fn events_decode_or_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let (_, largest) = largest_allocation(|| postcard::from_bytes::<Event>(&bytes).ok());
        prop_assert!(largest <= bound(bytes.len()));
    }
}

/// The valid buffers decode to what was encoded (the properties above would
/// pass for a decoder that always fails).
#[test]
fn valid_buffers_decode() {
    for ts in [false, true] {
        let (b, n) = valid_buffer(ts);
        let count = if ts { n | rfy_runtime::record::TIMESTAMPED } else { n };
        assert!(decode_as::<(String, u64)>(&b, count), "timestamped {ts}");
        assert!(!decode_as::<(String, u64)>(&b, count + 1), "one record more than there is");
    }
}
