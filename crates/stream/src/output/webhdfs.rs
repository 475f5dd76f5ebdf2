//! One file per batch in HDFS through WebHDFS (the TP: "les stocker dans HDFS").
//!
//! Like Spark's `saveAsTextFiles`, each batch becomes `<dir>/wordcounts-<time>.txt` holding every
//! `(word,count)` line. It is written as `<dir>/.wordcounts-<time>.txt.tmp` with the two-step
//! CREATE (PUT to the namenode, follow its 307 to a datanode with the data), then moved into
//! place with one RENAME, so a reader never sees half a batch.

use std::fmt::Write as _;

use webhdfs_client::{ClientError, WebHdfs};

use crate::Error;
use crate::clock::Millis;
use crate::pipeline::Output;

/// Where and as whom the batches are written.
#[derive(Debug, Clone)]
pub struct HdfsOutput {
    /// The namenode (`http://namenode:port`) and the user.
    client: WebHdfs,
    /// The directory, absolute, without a trailing slash.
    dir: String,
}

/// Splits `webhdfs://host:port/dir` or `http://host:port/dir` into the namenode's base URL and
/// the directory. WebHDFS's default port (9870) is used when none is given.
pub fn parse_hdfs_dir(url: &str) -> Result<(String, String), Error> {
    let bad = |why: &str| {
        Error::Config(format!(
            "--hdfs-dir {url:?}: {why} (expected webhdfs://namenode:9870/some/dir)"
        ))
    };
    let rest = url
        .strip_prefix("webhdfs://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("the scheme must be webhdfs:// or http://"))?;
    let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no directory"))?;
    if authority.is_empty() {
        return Err(bad("no namenode host"));
    }
    let dir = format!("/{}", path.trim_end_matches('/'));
    if dir == "/" {
        return Err(bad("no directory"));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:9870")
    };
    Ok((format!("http://{authority}"), dir))
}

/// The text of a batch file: every `(word,count)` line, in print order.
pub fn batch_file_text(counts: &[(String, u64)]) -> String {
    let mut text = String::new();
    for (word, count) in counts {
        let _ = writeln!(text, "({word},{count})");
    }
    text
}

/// The final name of the file of the batch at `time`.
pub fn batch_file_name(time: Millis) -> String {
    format!("wordcounts-{time}.txt")
}

impl HdfsOutput {
    /// Batches go to `url`'s directory, written as `user`. The directory is created if missing.
    pub async fn new(url: &str, user: String) -> Result<HdfsOutput, Error> {
        let (base, dir) = parse_hdfs_dir(url)?;
        let client =
            WebHdfs::new(&base, &user).map_err(|e| Error::Hdfs(format!("HTTP client: {e}")))?;
        expect_true(client.mkdirs(&dir).await, &format!("create {dir}"))?;
        Ok(HdfsOutput { client, dir })
    }

    /// Writes the batch file (temp name, then RENAME into place).
    pub async fn write(&self, output: &Output) -> Result<(), Error> {
        let name = batch_file_name(output.time);
        let temp = format!("{}/.{name}.tmp", self.dir);
        let target = format!("{}/{name}", self.dir);
        self.client
            .create(&temp, batch_file_text(&output.counts), true)
            .await
            .map_err(|e| Error::Hdfs(format!("create {temp}: {e}")))?;
        expect_true(
            self.client.rename(&temp, &target).await,
            &format!("rename {temp} to {target}"),
        )
    }
}

/// A call whose answer must be `{"boolean": true}`; `what` names it in the error.
fn expect_true(answer: Result<bool, ClientError>, what: &str) -> Result<(), Error> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Hdfs(format!(
            "{what}: the namenode answered {{\"boolean\":false}}"
        ))),
        Err(e) => Err(Error::Hdfs(format!("{what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_parse_from_both_schemes() {
        assert_eq!(
            parse_hdfs_dir("webhdfs://hadoop-master:9870/user/root/wc/").unwrap(),
            ("http://hadoop-master:9870".into(), "/user/root/wc".into())
        );
        assert_eq!(
            parse_hdfs_dir("http://localhost/out").unwrap(),
            ("http://localhost:9870".into(), "/out".into())
        );
    }

    #[test]
    fn bad_directories_are_named() {
        for bad in [
            "hdfs://nn:8020/x",
            "webhdfs://nn:9870",
            "webhdfs://nn:9870/",
            "http:///x",
        ] {
            let err = parse_hdfs_dir(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_batch_file_has_every_pair() {
        let counts: Vec<(String, u64)> = (0..12).map(|i| (format!("w{i}"), i)).collect();
        let text = batch_file_text(&counts);
        assert_eq!(text.lines().count(), 12);
        assert!(text.starts_with("(w0,0)\n(w1,1)\n"));
        assert!(text.ends_with("(w11,11)\n"));
    }

    #[test]
    fn file_names_carry_the_batch_time() {
        assert_eq!(
            batch_file_name(1_520_287_448_000),
            "wordcounts-1520287448000.txt"
        );
    }
}
