//! The text of Spark's `DStream.print()`, byte for byte, so the TP's `>> out` file looks the same.
//!
//! For each batch Spark prints a line of 43 dashes, `Time: <millis> ms`, 43 dashes, then the
//! first 10 elements of the batch (a pair prints as Scala's `(word,count)`), `...` when the batch
//! has more, and an empty line. An empty batch prints its header and the empty line.

use std::fmt::Write as _;

use crate::clock::Millis;

/// How many elements `print()` shows (its default `num`).
pub const PRINT_NUM: usize = 10;

/// The separator line of `print()`: 43 dashes.
pub const DASHES: &str = "-------------------------------------------";

/// Renders one batch as `print()` would, from its elements in print order.
pub fn render_batch<W: AsRef<str>>(time: Millis, elements: &[(W, u64)]) -> String {
    let mut out = String::with_capacity(128 + 16 * elements.len().min(PRINT_NUM));
    // Writing into a String cannot fail.
    let _ = write!(out, "{DASHES}\nTime: {time} ms\n{DASHES}\n");
    for (word, count) in elements.iter().take(PRINT_NUM) {
        let _ = writeln!(out, "({},{count})", word.as_ref());
    }
    if elements.len() > PRINT_NUM {
        out.push_str("...\n");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_has_43_dashes() {
        assert_eq!(DASHES.len(), 43);
        assert!(DASHES.chars().all(|c| c == '-'));
    }

    #[test]
    fn the_tp_batch_prints_exactly() {
        let batch = [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)];
        assert_eq!(
            render_batch(1_520_287_448_000, &batch),
            "-------------------------------------------\n\
             Time: 1520287448000 ms\n\
             -------------------------------------------\n\
             (hello,2)\n\
             (kafka,1)\n\
             (zookeeper!,1)\n\
             (and,1)\n\
             \n"
        );
    }

    #[test]
    fn the_empty_word_prints_as_comma_one() {
        assert_eq!(
            render_batch(1_520_287_442_000, &[("", 1)]),
            "-------------------------------------------\n\
             Time: 1520287442000 ms\n\
             -------------------------------------------\n\
             (,1)\n\
             \n"
        );
    }

    #[test]
    fn an_empty_batch_prints_its_header() {
        assert_eq!(
            render_batch::<&str>(1_520_287_444_000, &[]),
            "-------------------------------------------\n\
             Time: 1520287444000 ms\n\
             -------------------------------------------\n\
             \n"
        );
    }

    #[test]
    fn more_than_ten_elements_end_with_dots() {
        let words: Vec<(String, u64)> = (0..11).map(|i| (format!("w{i}"), 1)).collect();
        let text = render_batch(2000, &words);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3 + 10 + 1 + 1);
        assert_eq!(lines[3], "(w0,1)");
        assert_eq!(lines[12], "(w9,1)");
        assert_eq!(lines[13], "...");
        assert_eq!(lines[14], "");
        assert!(!text.contains("(w10,1)"));
    }

    #[test]
    fn exactly_ten_elements_have_no_dots() {
        let words: Vec<(String, u64)> = (0..10).map(|i| (format!("w{i}"), 1)).collect();
        let text = render_batch(2000, &words);
        assert!(!text.contains("..."));
        assert!(text.ends_with("(w9,1)\n\n"));
    }
}
