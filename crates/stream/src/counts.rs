//! Counting the words of a batch: the `flatMap(split) → mapToPair(w, 1) → reduceByKey(+)` of the
//! TP's job, without a cluster.

use indexmap::IndexMap;

use crate::spark_order::spark_order;
use crate::split::java_split_space;

/// The word counts of one batch (or of one window of batches), kept in order of first
/// appearance, which is what [`spark_order`] needs to break slot collisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordCounts {
    counts: IndexMap<String, u64>,
}

impl WordCounts {
    /// An empty count.
    pub fn new() -> WordCounts {
        WordCounts::default()
    }

    /// Counts the words of one Kafka message value. Spark's `StringDecoder` decodes UTF-8 and
    /// replaces malformed bytes with U+FFFD, and so do we.
    pub fn add_message(&mut self, value: &[u8]) {
        self.add_line(&String::from_utf8_lossy(value));
    }

    /// Counts the words of one line, split as Java's `split(" ")` does.
    pub fn add_line(&mut self, line: &str) {
        for word in java_split_space(line) {
            self.add(word, 1);
        }
    }

    /// Adds `n` occurrences of `word` (allocates only for a word not seen before).
    pub fn add(&mut self, word: &str, n: u64) {
        if let Some(count) = self.counts.get_mut(word) {
            *count += n;
        } else {
            self.counts.insert(word.to_owned(), n);
        }
    }

    /// Adds every count of `other` (a window is the merge of its batches).
    pub fn merge(&mut self, other: &WordCounts) {
        for (word, n) in &other.counts {
            self.add(word, *n);
        }
    }

    /// How many times `word` was seen.
    pub fn get(&self, word: &str) -> u64 {
        self.counts.get(word).copied().unwrap_or(0)
    }

    /// How many distinct words.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// How many words in all.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The `(word, count)` pairs in the order Spark shows them with `partitions` hash partitions.
    pub fn into_spark_order(self, partitions: u32) -> Vec<(String, u64)> {
        spark_order(self.counts.into_iter().collect(), partitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tp_line_is_counted_per_word() {
        let mut c = WordCounts::new();
        c.add_line("hello hello kafka and zookeeper!");
        assert_eq!(c.get("hello"), 2);
        assert_eq!(c.get("kafka"), 1);
        assert_eq!(c.get("and"), 1);
        assert_eq!(c.get("zookeeper!"), 1);
        assert_eq!(c.distinct(), 4);
        assert_eq!(c.total(), 5);
    }

    #[test]
    fn an_empty_message_counts_one_empty_word() {
        let mut c = WordCounts::new();
        c.add_message(b"");
        assert_eq!(c.get(""), 1);
        assert_eq!(c.into_spark_order(2), [(String::new(), 1)]);
    }

    #[test]
    fn counts_add_up_over_messages_and_merges() {
        let mut a = WordCounts::new();
        a.add_message(b"a b a");
        let mut b = WordCounts::new();
        b.add_message(b"b  c");
        a.merge(&b);
        assert_eq!(
            (a.get("a"), a.get("b"), a.get("c"), a.get("")),
            (2, 2, 1, 1)
        );
        assert_eq!(a.total(), 6);
    }

    #[test]
    fn malformed_utf8_becomes_a_replacement_character() {
        let mut c = WordCounts::new();
        c.add_message(b"caf\xe9 ok");
        assert_eq!(c.get("caf\u{FFFD}"), 1);
        assert_eq!(c.get("ok"), 1);
    }
}
