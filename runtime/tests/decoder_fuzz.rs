//! Property tests of the checkpoint decoders (issue 11): random bytes and
//! mutated valid images — truncated, bit-flipped, bytes inserted or deleted,
//! length fields overwritten — fed to the state file decoder
//! (`format::decode_framed`) and the `_metadata` parser
//! (`CheckpointMetadata::from_bytes`), 10 000 cases each. Every case must
//! return (an error or a value), never panic. A mutated image is re-sealed
//! (its length and CRC recomputed) half of the time, so the payload decoders
//! themselves see the damage instead of the checksum catching it first.
//! Cases come from a seeded xorshift generator (RFY_FUZZ_SEED to replay).

use std::collections::BTreeMap;
use std::path::Path;

use rfy_runtime::checkpoint::format::{crc32, decode_framed, encode_framed};
use rfy_runtime::checkpoint::{CheckpointMetadata, OperatorMeta, OperatorSnapshot, StateHandle};

const CASES: usize = 10_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seed() -> u64 {
    std::env::var("RFY_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234_abcd_ef01) | 1
}

/// One random mutation of `img`.
fn mutate(rng: &mut Rng, img: &mut Vec<u8>) {
    match rng.below(6) {
        0 => img.truncate(rng.below(img.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(img.len());
                if let Some(b) = img.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        2 => {
            let i = rng.below(img.len() + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            img.splice(i..i, bytes);
        }
        3 => {
            let i = rng.below(img.len());
            let n = rng.below(16).min(img.len() - i.min(img.len()));
            img.drain(i..i + n);
        }
        4 => {
            // A huge length varint or field somewhere: 0xff bytes.
            let i = rng.below(img.len());
            for b in img.iter_mut().skip(i).take(1 + rng.below(9)) {
                *b = 0xff;
            }
        }
        _ => {
            let i = rng.below(img.len());
            if let Some(b) = img.get_mut(i) {
                *b = rng.next() as u8;
            }
        }
    }
}

/// Rewrites a state file's header length and CRC to match its payload.
fn reseal_state(img: &mut [u8]) {
    if img.len() >= 24 {
        let len = (img.len() - 24) as u64;
        let crc = crc32(&img[24..]);
        img[12..20].copy_from_slice(&len.to_le_bytes());
        img[20..24].copy_from_slice(&crc.to_le_bytes());
    }
}

#[test]
fn state_file_decoder_never_panics() {
    let snapshot = OperatorSnapshot {
        key_groups: Some((0, 127)),
        keyed: (0..20u32).map(|kg| (kg, vec![kg as u8; 1 + kg as usize * 3])).collect(),
        operator: vec![b"split-0".to_vec(), vec![0xff; 40]],
    };
    let valid = encode_framed(&snapshot, "op").unwrap();
    assert_eq!(decode_framed::<OperatorSnapshot>(&valid, Path::new("f")).unwrap(), snapshot);
    let mut rng = Rng(seed());
    let mut decoded = 0;
    for case in 0..CASES {
        let img = if case % 5 == 0 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            let mut img = valid.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut img);
            }
            if case % 2 == 0 {
                reseal_state(&mut img);
            }
            img
        };
        match decode_framed::<OperatorSnapshot>(&img, Path::new("chk-1/op-0")) {
            Ok(_) => decoded += 1,
            Err(e) => assert!(e.to_string().contains("chk-1/op-0"), "the error names the file: {e}"),
        }
    }
    eprintln!("{CASES} state file cases, {decoded} decoded, the rest rejected");
}

fn reseal_metadata(img: &[u8]) -> Vec<u8> {
    let Some(nl) = img.iter().position(|b| *b == b'\n') else { return img.to_vec() };
    let json = &img[nl + 1..];
    let mut out = format!(
        "{} v{} crc32={:08x} len={}\n",
        rfy_runtime::checkpoint::metadata::HEADER_PREFIX,
        rfy_runtime::checkpoint::metadata::METADATA_VERSION,
        crc32(json),
        json.len()
    )
    .into_bytes();
    out.extend_from_slice(json);
    out
}

#[test]
fn metadata_parser_never_panics() {
    let handle =
        |subtask| StateHandle { subtask, file: format!("op-{subtask}"), size: 99, crc32: 7, key_groups: Some((0, 63)) };
    let meta = CheckpointMetadata {
        version: rfy_runtime::checkpoint::metadata::METADATA_VERSION,
        job_id: "0123456789abcdef0123456789abcdef".into(),
        checkpoint_id: 3,
        timestamp_ms: 1,
        savepoint: false,
        savepoint_format: None,
        max_parallelism: 128,
        operators: BTreeMap::from([(
            "op".to_string(),
            OperatorMeta { parallelism: 2, subtasks: vec![handle(0), handle(1)] },
        )]),
    };
    let valid = meta.to_bytes();
    assert!(CheckpointMetadata::from_bytes(&valid, Path::new("m")).is_ok());
    let mut rng = Rng(seed());
    for case in 0..CASES {
        let img = if case % 5 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let mut img = valid.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut img);
            }
            if case % 2 == 0 {
                img = reseal_metadata(&img);
            }
            img
        };
        if let Err(e) = CheckpointMetadata::from_bytes(&img, Path::new("chk-3/_metadata")) {
            assert!(e.to_string().contains("chk-3/_metadata"), "the error names the file: {e}");
        }
    }
}
