//! "Did you mean" for unknown keys: the registered key closest by edit distance.

use crate::options;

/// The registered key closest to `key` (Levenshtein distance, ignoring case),
/// if it is close enough to be a likely typo: at most 3 edits and less than a
/// third of the key's length.
pub fn closest_key(key: &str) -> Option<&'static str> {
    let wanted = key.to_ascii_lowercase();
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    options::all()
        .iter()
        .map(|o| (edit_distance(&wanted, &o.key.to_ascii_lowercase()), o.key))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance between `a` and `b`, counted in chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("paralelism", "parallelism"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest_key("paralelism.default"), Some("parallelism.default"));
        assert_eq!(closest_key("taskmanager.numberoftaskslots"), Some("taskmanager.numberOfTaskSlots"));
        assert_eq!(closest_key("rest.prot"), Some("rest.port"));
        assert_eq!(closest_key("completely.different"), None);
        assert_eq!(closest_key("x"), None);
    }
}
