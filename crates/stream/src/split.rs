//! Java's `String.split(" ")`, the tokenizer of the TP's `SparkKafkaWordCount`.
//!
//! The job must count exactly what the Java job counted, so the odd corners of Java's split are
//! kept on purpose: inner and leading empty strings stay (`"a  b"` gives `a`, ``, `b`), trailing
//! empty strings are dropped (`"a "` gives `a`), a string without any space comes back whole
//! (so `""` gives one empty word — the TP's expected output shows it as `(,1)`), and a string of
//! spaces only gives nothing.

/// Splits `line` as Java's `line.split(" ")` does (limit 0).
pub fn java_split_space(line: &str) -> impl Iterator<Item = &str> {
    let trimmed = line.trim_end_matches(' ');
    // Java returns the whole string when nothing matched (so "" -> [""]), but a non-empty
    // string of spaces only splits into empty strings that are all trailing, hence removed.
    let only_spaces = trimmed.is_empty() && !line.is_empty();
    trimmed
        .split(' ')
        .take(if only_spaces { 0 } else { usize::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<&str> {
        java_split_space(s).collect()
    }

    #[test]
    fn the_tp_line_splits_into_its_words() {
        assert_eq!(
            split("hello hello kafka and zookeeper!"),
            ["hello", "hello", "kafka", "and", "zookeeper!"]
        );
    }

    #[test]
    fn an_empty_line_is_one_empty_word() {
        // Java: "".split(" ") is [""]; the TP's output shows it as (,1).
        assert_eq!(split(""), [""]);
    }

    #[test]
    fn inner_and_leading_empty_strings_are_kept() {
        assert_eq!(split("a  b"), ["a", "", "b"]);
        assert_eq!(split(" a"), ["", "a"]);
        assert_eq!(split("  a b"), ["", "", "a", "b"]);
    }

    #[test]
    fn trailing_empty_strings_are_dropped() {
        assert_eq!(split("a "), ["a"]);
        assert_eq!(split("a b   "), ["a", "b"]);
        assert_eq!(split(" a  "), ["", "a"]);
    }

    #[test]
    fn spaces_only_give_nothing() {
        assert_eq!(split(" "), Vec::<&str>::new());
        assert_eq!(split("    "), Vec::<&str>::new());
    }

    #[test]
    fn other_whitespace_is_part_of_a_word() {
        // split(" ") splits on the space character only, not on tabs or newlines.
        assert_eq!(split("a\tb c\n"), ["a\tb", "c\n"]);
    }

    #[test]
    fn a_line_without_spaces_comes_back_whole() {
        assert_eq!(split("élan"), ["élan"]);
    }
}
