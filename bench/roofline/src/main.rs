//! `rfy-roofline FILE [--output COUNTS.tsv]`
//!
//! The one-core roofline of scripts/bench-wordcount: the fastest plain single-threaded word count
//! we can write without heroics, with the same tokenizer as Flink's WordCount
//! (`line.toLowerCase().split("\\W+")`, empty tokens dropped):
//!
//! * the file is read in 1 MiB chunks (no per-line allocation, no UTF-8 validation); a word cut by
//!   the chunk end is carried over to the next chunk;
//! * a 256-entry table maps each byte to its lower-case form, or to 0 if it separates words: Java's
//!   `\W` is every char that is not `[a-zA-Z0-9_]`, so every byte >= 0x80 is a separator too
//!   (exact for ASCII input such as data/kjv.txt; Java would lower-case a few non-ASCII letters
//!   into ASCII ones, e.g. KELVIN SIGN into `k`, which this byte loop does not try to copy);
//! * counts live in a `rustc_hash::FxHashMap<Box<[u8]>, u64>` (rustc-hash 2, FxHasher): each word
//!   is lower-cased into a reused buffer and looked up by `&[u8]`; only a new word allocates.
//!
//! Prints `words=<total> distinct=<distinct> bytes=<bytes>` to stdout; `--output` also writes
//! `word<TAB>count` lines sorted by word, to compare with data/kjv.flink-counts.tsv.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use rustc_hash::FxHashMap;

const CHUNK: usize = 1 << 20;

/// `LOWER[b]` is `b` lower-cased if `b` is in `[A-Za-z0-9_]`, else 0 (a separator).
const LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' | b'0'..=b'9' | b'_' => c,
            b'A'..=b'Z' => c + 32,
            _ => 0,
        };
        b += 1;
    }
    t
};

struct Counter {
    counts: FxHashMap<Box<[u8]>, u64>,
    words: u64,
    /// A word cut by the end of the last chunk, lower-cased.
    word: Vec<u8>,
    /// Reused buffer for lower-casing one word.
    lower: Vec<u8>,
}

impl Counter {
    fn new() -> Self {
        Counter { counts: FxHashMap::default(), words: 0, word: Vec::with_capacity(64), lower: Vec::with_capacity(64) }
    }

    #[inline]
    fn count(&mut self, word: &[u8]) {
        self.words += 1;
        match self.counts.get_mut(word) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(word.into(), 1);
            }
        }
    }

    /// Counts the words of `chunk`; a word that touches the chunk's end is kept in `self.word`
    /// until the next chunk (or `finish`) shows where it ends.
    fn feed(&mut self, chunk: &[u8]) {
        let n = chunk.len();
        let mut i = 0;
        if !self.word.is_empty() {
            // Finish the word carried over from the previous chunk.
            while i < n && LOWER[chunk[i] as usize] != 0 {
                self.word.push(LOWER[chunk[i] as usize]);
                i += 1;
            }
            if i == n {
                return;
            }
            let word = std::mem::take(&mut self.word);
            self.count(&word);
            self.word = word;
            self.word.clear();
        }
        let mut lower = std::mem::take(&mut self.lower);
        loop {
            while i < n && LOWER[chunk[i] as usize] == 0 {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            while i < n && LOWER[chunk[i] as usize] != 0 {
                i += 1;
            }
            let raw = &chunk[start..i];
            if i == n {
                self.word.extend(raw.iter().map(|&b| LOWER[b as usize]));
                break;
            }
            lower.clear();
            lower.extend(raw.iter().map(|&b| LOWER[b as usize]));
            self.count(&lower);
        }
        self.lower = lower;
    }

    fn finish(&mut self) {
        if !self.word.is_empty() {
            let word = std::mem::take(&mut self.word);
            self.count(&word);
        }
    }
}

fn run(path: &str, output: Option<&str>) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let mut counter = Counter::new();
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n as u64;
        counter.feed(&buf[..n]);
    }
    counter.finish();

    if let Some(out) = output {
        let mut entries: Vec<(&[u8], u64)> = counter.counts.iter().map(|(w, &n)| (&w[..], n)).collect();
        entries.sort_unstable();
        let mut w = BufWriter::new(File::create(out)?);
        for (word, n) in entries {
            w.write_all(word)?;
            writeln!(w, "\t{n}")?;
        }
        w.flush()?;
    }
    println!("words={} distinct={} bytes={}", counter.words, counter.counts.len(), bytes);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, output) = match args.as_slice() {
        [p] => (p.as_str(), None),
        [p, o, f] if o == "--output" => (p.as_str(), Some(f.as_str())),
        _ => {
            eprintln!("usage: rfy-roofline FILE [--output COUNTS.tsv]");
            return ExitCode::from(2);
        }
    };
    match run(path, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rfy-roofline: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
