//! The order in which Spark's `reduceByKey(...).print()` shows the words of a batch.
//!
//! Spark does not sort: `reduceByKey` hash-partitions the words with a `HashPartitioner` of
//! `defaultParallelism` partitions (2 for the TP's `--master local[2]`), partition `p` holding
//! the words whose Java `hashCode` is `p` modulo the count; `print()` then takes the partitions
//! in order, and each partition in the slot order of the open-addressing table Spark aggregates
//! into (`AppendOnlyMap`: 64 slots to start, slot = Guava's `murmur3_32().hashInt(hashCode)`
//! masked, quadratic probing, doubled past 70 % load).
//!
//! We rebuild that order, so the TP's own line `hello hello kafka and zookeeper!` prints in the
//! order of the TP's screenshot: `(hello,2)`, `(kafka,1)`, `(zookeeper!,1)`, `(and,1)`. It is
//! exact whenever no two words of a partition compete for a slot; when they do, the word seen
//! first in the batch takes the slot (Spark's tie-break depends on its shuffle's internals).

/// Java's `String.hashCode()`: over UTF-16 code units, `h = 31 * h + c` with wrapping.
pub fn java_string_hash(word: &str) -> i32 {
    word.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Guava's `Hashing.murmur3_32().hashInt(value).asInt()` (seed 0), Spark's `rehash`.
fn murmur3_hash_int(value: i32) -> i32 {
    let mut k1 = u32::from_ne_bytes(value.to_ne_bytes());
    k1 = k1
        .wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593);
    let mut h1 = k1.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    h1 ^= 4; // the input's length in bytes
    h1 ^= h1 >> 16;
    h1 = h1.wrapping_mul(0x85eb_ca6b);
    h1 ^= h1 >> 13;
    h1 = h1.wrapping_mul(0xc2b2_ae35);
    h1 ^= h1 >> 16;
    i32::from_ne_bytes(h1.to_ne_bytes())
}

/// Spark's `HashPartitioner.getPartition`: the non-negative `hashCode` modulo `partitions`.
fn partition_of(hash: i32, partitions: u32) -> usize {
    let n = i64::from(partitions.max(1));
    usize::try_from(i64::from(hash).rem_euclid(n)).unwrap_or(0)
}

/// A simulation of one `AppendOnlyMap`'s slots: which word (by index) sits in which slot.
#[derive(Debug)]
struct SlotTable {
    /// `slots[s]` is the index (into the caller's list) of the word in slot `s`.
    slots: Vec<Option<usize>>,
    len: usize,
}

impl SlotTable {
    const INITIAL_CAPACITY: usize = 64;

    fn new() -> SlotTable {
        SlotTable {
            slots: vec![None; Self::INITIAL_CAPACITY],
            len: 0,
        }
    }

    /// Adds a word (known to be new) with its `rehash`ed hash, growing as Spark does.
    fn insert(&mut self, word: usize, rehashed: &[i32]) {
        place(&mut self.slots, word, rehashed);
        self.len += 1;
        // Spark grows when the size exceeds (0.7 * capacity).toInt.
        if self.len * 10 > self.slots.len() * 7 {
            let mut bigger = vec![None; self.slots.len() * 2];
            for w in self.slots.iter().flatten() {
                place(&mut bigger, *w, rehashed);
            }
            self.slots = bigger;
        }
    }
}

/// Puts `word` in its first free slot along Spark's quadratic probe sequence.
fn place(slots: &mut [Option<usize>], word: usize, rehashed: &[i32]) {
    let mask = slots.len() - 1; // a power of two, never empty
    let hash = rehashed.get(word).copied().unwrap_or(0);
    let mut pos = usize::try_from(u32::from_ne_bytes(hash.to_ne_bytes())).unwrap_or(0) & mask;
    let mut step = 1;
    // Quadratic probing over a power-of-two table visits every slot, and a free one exists.
    while let Some(slot) = slots.get_mut(pos) {
        if slot.is_none() {
            *slot = Some(word);
            return;
        }
        pos = (pos + step) & mask;
        step += 1;
    }
}

/// Reorders a batch's `(word, count)` pairs (given in order of first appearance) into the order
/// Spark's `reduceByKey` with `partitions` hash partitions would show them.
pub fn spark_order<T>(pairs: Vec<(T, u64)>, partitions: u32) -> Vec<(T, u64)>
where
    T: AsRef<str>,
{
    let rehashed: Vec<i32> = pairs
        .iter()
        .map(|(w, _)| murmur3_hash_int(java_string_hash(w.as_ref())))
        .collect();
    let mut tables: Vec<SlotTable> = (0..partitions.max(1)).map(|_| SlotTable::new()).collect();
    for (index, (word, _)) in pairs.iter().enumerate() {
        let p = partition_of(java_string_hash(word.as_ref()), partitions);
        if let Some(table) = tables.get_mut(p) {
            table.insert(index, &rehashed);
        }
    }
    let order: Vec<usize> = tables
        .iter()
        .flat_map(|t| t.slots.iter().flatten().copied())
        .collect();
    let mut taken: Vec<Option<(T, u64)>> = pairs.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| taken.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_codes_match_the_jvm() {
        // Values printed by `"…".hashCode()` on a JVM.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("and"), 96_727);
        assert_eq!(java_string_hash("zookeeper!"), -1_918_471_595);
        // Non-BMP characters count as two UTF-16 units, as in Java.
        assert_eq!(java_string_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn murmur_matches_guava() {
        // hashInt writes the int's 4 bytes little-endian: MurmurHash3_x86_32 of four zero bytes
        // with seed 0 is SMHasher's reference vector 0x2362F9DE.
        assert_eq!(murmur3_hash_int(0), 0x2362_F9DE);
    }

    #[test]
    fn negative_hash_codes_go_to_a_non_negative_partition() {
        assert_eq!(partition_of(-1_918_471_595, 2), 1);
        assert_eq!(partition_of(-4, 3), 2);
        assert_eq!(partition_of(7, 1), 0);
    }

    #[test]
    fn the_tp_line_comes_out_in_the_tp_screenshot_order() {
        let pairs = vec![("hello", 2), ("kafka", 1), ("and", 1), ("zookeeper!", 1)];
        let ordered = spark_order(pairs, 2);
        assert_eq!(
            ordered,
            [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)]
        );
    }

    #[test]
    fn the_order_does_not_depend_on_arrival_without_collisions() {
        let a = spark_order(
            vec![("and", 1), ("zookeeper!", 1), ("kafka", 1), ("hello", 2)],
            2,
        );
        assert_eq!(
            a,
            [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)]
        );
    }

    #[test]
    fn every_word_survives_growth_and_collisions() {
        let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
        let pairs: Vec<(&str, u64)> = words.iter().map(|w| (w.as_str(), 1)).collect();
        let ordered = spark_order(pairs, 3);
        assert_eq!(ordered.len(), 5000);
        let mut seen: Vec<&str> = ordered.iter().map(|(w, _)| *w).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 5000);
        // Partition 0's words all come before partition 1's, which come before partition 2's.
        let parts: Vec<usize> = ordered
            .iter()
            .map(|(w, _)| partition_of(java_string_hash(w), 3))
            .collect();
        assert!(parts.windows(2).all(|p| p[0] <= p[1]));
    }
}
