//! A compact set of 64-bit fingerprints for dedupe: about 4 bytes per stored event instead of
//! the 10–18 of a hash set (whose table doubles, and briefly exists twice, as history grows).
//!
//! Each fingerprint is kept as its 52-bit signature (its top 52 bits): the top 20 bits pick one
//! of 2^20 buckets, and the bucket holds the other 32 bits, sorted. A lookup reads the bucket's
//! bounds and binary-searches a few dozen `u32`s (a cache line or two at tens of millions of
//! events). Signatures added since the last rebuild wait in a small hash set; once that holds an
//! eighth of the compact part (at least 2^20), both are merged in one pass, which briefly holds
//! the old and the new compact part (8 bytes per event). Removals (retention) compact the set in
//! place. Loading builds the set from all fingerprints at once: 12 bytes per event until it is
//! built.
//!
//! Dropping 12 bits makes two fingerprints agree more often: about one lookup in 2^52 / n
//! (1 in 150 million at 30M stored events) is a false "maybe", which costs the exact check that
//! every match already gets. A signature two identities share is reported by
//! [`Signatures::insert`] and [`Signatures::from_fingerprints`], so that the caller never forgets
//! it.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

const SIGNATURE_BITS: u32 = 52;
const BUCKET_BITS: u32 = 20;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// The rebuild threshold's floor, in fingerprints added since the last rebuild.
const MIN_PENDING: usize = 1 << 20;

/// A fingerprint's signature: its top [`SIGNATURE_BITS`] bits.
fn signature(fingerprint: u64) -> u64 {
    fingerprint >> (64 - SIGNATURE_BITS)
}

fn bucket(signature: u64) -> usize {
    // At most BUCKET_BITS bits: fits any usize.
    (signature >> (SIGNATURE_BITS - BUCKET_BITS)) as usize
}

fn low(signature: u64) -> u32 {
    // The low 32 bits (SIGNATURE_BITS - BUCKET_BITS = 32): truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    let low = signature as u32;
    low
}

/// Hashes a signature for a hash table without hashing it again: signatures are uniformly
/// distributed in their 52 bits already. The table takes its slot from the low bits and a tag
/// from the top 7, so the rotation moves 12 random bits into the 12 that are always zero.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, signature: u64) {
        self.0 = signature.rotate_right(64 - SIGNATURE_BITS);
    }
}

/// Sorted signatures, bucketed by their top bits.
struct Compact {
    /// `starts[b]..starts[b + 1]` is bucket `b`'s range of `lows`.
    starts: Vec<usize>,
    lows: Vec<u32>,
}

impl Compact {
    fn empty() -> Compact {
        Compact {
            starts: vec![0; BUCKETS + 1],
            lows: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.lows.len()
    }

    fn bucket_range(&self, bucket: usize) -> std::ops::Range<usize> {
        self.starts[bucket]..self.starts[bucket + 1]
    }

    fn contains(&self, signature: u64) -> bool {
        self.lows[self.bucket_range(bucket(signature))]
            .binary_search(&low(signature))
            .is_ok()
    }

    /// Every signature, in ascending order.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..BUCKETS).flat_map(move |bucket| {
            self.lows[self.bucket_range(bucket)]
                .iter()
                .map(move |low| ((bucket as u64) << 32) | u64::from(*low))
        })
    }

    /// Builds the set from signatures in any order (a counting sort by bucket, then a sort per
    /// bucket); returns it with the signatures that occurred more than once.
    fn from_unsorted(signatures: &[u64]) -> (Compact, Vec<u64>) {
        let mut starts = vec![0usize; BUCKETS + 1];
        for signature in signatures {
            starts[bucket(*signature) + 1] += 1;
        }
        for bucket in 0..BUCKETS {
            starts[bucket + 1] += starts[bucket];
        }
        let mut lows = vec![0u32; signatures.len()];
        let mut next = starts.clone();
        for signature in signatures {
            let slot = &mut next[bucket(*signature)];
            lows[*slot] = low(*signature);
            *slot += 1;
        }
        // Sort each bucket and drop repeats in place, moving the buckets down as they shrink.
        let mut repeated = Vec::new();
        let mut write = 0usize;
        let mut bucket_start = 0usize;
        for bucket in 0..BUCKETS {
            let (from, to) = (starts[bucket], starts[bucket + 1]);
            lows[from..to].sort_unstable();
            starts[bucket] = bucket_start;
            for read in from..to {
                let value = lows[read];
                if read > from && lows[read - 1] == value {
                    repeated.push(((bucket as u64) << 32) | u64::from(value));
                    continue;
                }
                lows[write] = value;
                write += 1;
            }
            bucket_start = write;
        }
        starts[BUCKETS] = bucket_start;
        lows.truncate(write);
        lows.shrink_to_fit();
        repeated.dedup();
        (Compact { starts, lows }, repeated)
    }

    /// This set plus `added` (ascending, none already here), in one pass.
    fn merged(&self, added: &[u64]) -> Compact {
        let mut starts = vec![0usize; BUCKETS + 1];
        let mut lows = Vec::with_capacity(self.len() + added.len());
        let mut added = added.iter().copied().peekable();
        let mut keep = |signature: u64, lows: &mut Vec<u32>| {
            starts[bucket(signature) + 1] += 1;
            lows.push(low(signature));
        };
        for signature in self.iter() {
            while let Some(new) = added.next_if(|new| *new < signature) {
                keep(new, &mut lows);
            }
            keep(signature, &mut lows);
        }
        for new in added {
            keep(new, &mut lows);
        }
        for bucket in 0..BUCKETS {
            starts[bucket + 1] += starts[bucket];
        }
        Compact { starts, lows }
    }

    /// Removes `removed` (ascending) in place: one pass, nothing allocated.
    fn remove_sorted(&mut self, removed: &[u64]) {
        let mut removed = removed.iter().copied().peekable();
        let mut write = 0usize;
        for bucket in 0..BUCKETS {
            let (from, to) = (self.starts[bucket], self.starts[bucket + 1]);
            self.starts[bucket] = write;
            for read in from..to {
                let value = self.lows[read];
                let signature = ((bucket as u64) << 32) | u64::from(value);
                while removed.next_if(|gone| *gone < signature).is_some() {}
                if removed.next_if_eq(&signature).is_some() {
                    continue;
                }
                self.lows[write] = value;
                write += 1;
            }
        }
        self.starts[BUCKETS] = write;
        self.lows.truncate(write);
    }
}

/// The signatures of every stored fingerprint.
pub(super) struct Signatures {
    compact: Compact,
    /// Added since the last rebuild.
    pending: HashSet<u64, BuildHasherDefault<Spread>>,
}

impl Default for Signatures {
    fn default() -> Signatures {
        Signatures {
            compact: Compact::empty(),
            pending: HashSet::default(),
        }
    }
}

impl Signatures {
    /// The set of `fingerprints`, with the signatures among them that occurred more than once.
    pub(super) fn from_fingerprints(mut fingerprints: Vec<u64>) -> (Signatures, Vec<u64>) {
        for fingerprint in &mut fingerprints {
            *fingerprint = signature(*fingerprint);
        }
        let (compact, repeated) = Compact::from_unsorted(&fingerprints);
        drop(fingerprints);
        let set = Signatures {
            compact,
            pending: HashSet::default(),
        };
        (set, repeated)
    }

    pub(super) fn len(&self) -> usize {
        self.compact.len() + self.pending.len()
    }

    /// The signature `fingerprint` is kept as.
    pub(super) fn signature(fingerprint: u64) -> u64 {
        signature(fingerprint)
    }

    pub(super) fn contains(&self, fingerprint: u64) -> bool {
        let signature = signature(fingerprint);
        self.pending.contains(&signature) || self.compact.contains(signature)
    }

    /// Adds a fingerprint; false when its signature was already there.
    pub(super) fn insert(&mut self, fingerprint: u64) -> bool {
        let signature = signature(fingerprint);
        if self.compact.contains(signature) || !self.pending.insert(signature) {
            return false;
        }
        if self.pending.len() >= MIN_PENDING.max(self.compact.len() / 8) {
            self.rebuild();
        }
        true
    }

    /// Removes these signatures (as [`Signatures::signature`] gives them).
    pub(super) fn remove(&mut self, signatures: impl IntoIterator<Item = u64>) {
        let mut removed: Vec<u64> = signatures
            .into_iter()
            .filter(|signature| !self.pending.remove(signature))
            .collect();
        if removed.is_empty() {
            return;
        }
        removed.sort_unstable();
        self.compact.remove_sorted(&removed);
    }

    /// Merges the pending signatures into the compact part.
    fn rebuild(&mut self) {
        let mut added: Vec<u64> = self.pending.drain().collect();
        added.sort_unstable();
        self.compact = self.compact.merged(&added);
        self.pending.shrink_to(MIN_PENDING);
    }

    /// Bytes held, for logs and benchmarks.
    pub(super) fn heap_bytes(&self) -> usize {
        self.compact.starts.capacity() * 8 + self.compact.lows.capacity() * 4 + self.pending.capacity() * 9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(i: u64) -> u64 {
        // A fixed mixer: distinct inputs give distinct, well-spread outputs.
        let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    /// The compact part iterates in ascending order, as rebuilds need.
    fn assert_ascending(set: &Signatures) {
        let signatures: Vec<u64> = set.compact.iter().collect();
        assert!(signatures.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn loaded_fingerprints_are_found_and_repeats_reported() {
        let mut fingerprints: Vec<u64> = (0..5_000).map(spread).collect();
        fingerprints.push(spread(7));
        // Differs only in the dropped low bits: the same signature.
        fingerprints.push(spread(9) ^ 1);
        let (set, repeated) = Signatures::from_fingerprints(fingerprints);
        assert_eq!(set.len(), 5_000);
        let mut expected = vec![signature(spread(7)), signature(spread(9))];
        expected.sort_unstable();
        let mut repeated = repeated;
        repeated.sort_unstable();
        assert_eq!(repeated, expected);
        assert!((0..5_000).all(|i| set.contains(spread(i))));
        assert!((5_000..10_000).all(|i| !set.contains(spread(i))));
        assert_ascending(&set);
    }

    #[test]
    fn inserts_and_removals_survive_rebuilds() {
        let (mut set, _) = Signatures::from_fingerprints((0..1_000).map(spread).collect());
        assert!(!set.insert(spread(5)), "already there");
        for i in 1_000..3_000 {
            assert!(set.insert(spread(i)));
        }
        assert_eq!(set.len(), 3_000);
        set.rebuild();
        assert!(set.pending.is_empty());
        assert_eq!(set.compact.len(), 3_000);
        // Remove some from the compact part and some still pending.
        assert!(set.insert(spread(3_000)));
        set.remove([0, 2_999, 3_000, 1_000_000].map(|i| signature(spread(i))));
        assert_eq!(set.len(), 2_998);
        for i in [0, 2_999, 3_000] {
            assert!(!set.contains(spread(i)), "{i} removed");
        }
        assert!((1..2_999).all(|i| set.contains(spread(i))));
        assert_ascending(&set);
    }

    /// The hash table takes slots from the low bits and tags from the top 7: both must vary
    /// (a signature's own top 12 bits are always zero).
    #[test]
    fn pending_signatures_hash_to_varied_slots_and_tags() {
        let hash = |signature: u64| {
            let mut hasher = Spread::default();
            hasher.write_u64(signature);
            hasher.finish()
        };
        let hashes: Vec<u64> = (0..1_000).map(|i| hash(signature(spread(i)))).collect();
        let slots: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(slots.len() > 800, "{} distinct slots", slots.len());
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn an_empty_set_holds_nothing() {
        let set = Signatures::default();
        assert_eq!(set.len(), 0);
        assert!(!set.contains(0));
        assert!(!set.contains(u64::MAX));
    }
}
