//! `hdfs dfs`: Hadoop's file-system shell (`-ls -mkdir -put -get -cat -rm -du -tail`), over
//! WebHDFS, with Hadoop's flags, output and `cmd: message` errors.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::config::HadoopConfig;
use webhdfs_client::{ClientError, FileStatus, WebHdfs};

/// The WebHDFS endpoint a shell talks to: the host of `fs.defaultFS` and the port of
/// `dfs.namenode.http-address` (or its host too, when it names one).
pub fn endpoint(config: &HadoopConfig) -> anyhow::Result<String> {
    let (fs_host, _) = config.default_fs()?;
    let (http_host, http_port) = config.namenode_http_address()?;
    let host = if http_host == "0.0.0.0" || http_host == "::" {
        fs_host
    } else {
        http_host
    };
    Ok(format!("http://{host}:{http_port}"))
}

/// The user the shell acts as: `HADOOP_USER_NAME`, else `USER`, else `root`.
pub fn user() -> String {
    std::env::var("HADOOP_USER_NAME")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "root".into())
}

/// Runs `hdfs dfs <args…>`; returns the exit status (0, or 1 when any path failed).
pub async fn run(client: &WebHdfs, args: &[String]) -> i32 {
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return 255;
    };
    let name = cmd.trim_start_matches('-');
    let (flags, operands): (Vec<&String>, Vec<&String>) =
        rest.iter().partition(|a| a.starts_with('-') && a.len() > 1);
    let flag = |f: &str| flags.iter().any(|a| a.as_str() == f);
    let shell = Shell { client, name };
    let result = match name {
        "ls" => shell.ls(&operands, flag("-R")).await,
        "mkdir" => shell.mkdir(&operands, flag("-p")).await,
        "put" | "copyFromLocal" => shell.put(&operands, flag("-f")).await,
        "get" | "copyToLocal" => shell.get(&operands, flag("-f")).await,
        "cat" => shell.cat(&operands).await,
        "rm" => {
            let recursive = flag("-r") || flag("-R");
            shell.rm(&operands, recursive, flag("-f")).await
        }
        "du" => shell.du(&operands, flag("-s"), flag("-h")).await,
        "tail" => shell.tail(&operands, flag("-f")).await,
        "mv" => shell.mv(&operands).await,
        _ => {
            eprintln!("{cmd}: Unknown command\n{USAGE}");
            return 255;
        }
    };
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            1
        }
    }
}

const USAGE: &str = "Usage: hdfs dfs [-ls [-R] <path>...] [-mkdir [-p] <path>...] \
[-put [-f] <localsrc>... <dst>] [-get [-f] <src> <localdst>] [-cat <src>...] \
[-rm [-r|-R] [-f] [-skipTrash] <src>...] [-du [-s] [-h] <path>...] [-tail [-f] <file>] \
[-mv <src>... <dst>]";

struct Shell<'a> {
    client: &'a WebHdfs,
    name: &'a str,
}

impl Shell<'_> {
    /// Makes a path absolute (relative paths are under the home directory).
    async fn abs(&self, path: &str) -> Result<String, ClientError> {
        let path = path
            .strip_prefix("hdfs://")
            .map(|rest| rest.find('/').map_or("/", |i| rest.get(i..).unwrap_or("/")))
            .unwrap_or(path);
        if path.starts_with('/') {
            return Ok(path.to_string());
        }
        let home = self.client.home().await?;
        Ok(if path.is_empty() || path == "." {
            home
        } else {
            format!("{home}/{path}")
        })
    }

    /// Reports one failed path the Hadoop way and goes on.
    fn fail(&self, path: &str, e: &ClientError) {
        match e {
            ClientError::Remote { status: 404, .. } => {
                eprintln!("{}: `{path}': No such file or directory", self.name)
            }
            ClientError::Remote { message, .. } => eprintln!("{}: {message}", self.name),
            other => eprintln!("{}: {other}", self.name),
        }
    }

    async fn ls(&self, paths: &[&String], recursive: bool) -> anyhow::Result<bool> {
        let default = String::from(".");
        let paths: Vec<&String> = if paths.is_empty() {
            vec![&default]
        } else {
            paths.to_vec()
        };
        let mut ok = true;
        for p in paths {
            let abs = self.abs(p).await?;
            match self.ls_one(&abs, recursive, true).await {
                Ok(()) => {}
                Err(e) => {
                    self.fail(p, &e);
                    ok = false;
                }
            }
        }
        Ok(ok)
    }

    async fn ls_one(&self, path: &str, recursive: bool, top: bool) -> Result<(), ClientError> {
        let Some(status) = self.client.status(path).await? else {
            return Err(ClientError::Remote {
                status: 404,
                exception: "FileNotFoundException".into(),
                message: path.into(),
            });
        };
        if !status.is_dir() {
            println!("{}", ls_line(&status, path));
            return Ok(());
        }
        let entries = self.client.list(path).await?;
        if top && !recursive {
            println!("Found {} items", entries.len());
        }
        let base = path.trim_end_matches('/');
        for e in entries {
            let child = format!("{base}/{}", e.path_suffix);
            println!("{}", ls_line(&e, &child));
            if recursive && e.is_dir() {
                Box::pin(self.ls_one(&child, true, false)).await?;
            }
        }
        Ok(())
    }

    async fn mkdir(&self, paths: &[&String], parents: bool) -> anyhow::Result<bool> {
        anyhow::ensure!(
            !paths.is_empty(),
            "-mkdir: Not enough arguments: expected 1 but got 0"
        );
        let mut ok = true;
        for p in paths {
            let abs = self.abs(p).await?;
            if !parents {
                if let Some(s) = self.client.status(&abs).await? {
                    let what = if s.is_dir() {
                        "File exists"
                    } else {
                        "Not a directory"
                    };
                    eprintln!("mkdir: `{p}': {what}");
                    ok = false;
                    continue;
                }
                let parent = abs
                    .rsplit_once('/')
                    .map_or("/", |(a, _)| if a.is_empty() { "/" } else { a });
                if self.client.status(parent).await?.is_none() {
                    eprintln!("mkdir: `{parent}': No such file or directory");
                    ok = false;
                    continue;
                }
            }
            if let Err(e) = self.client.mkdirs(&abs).await {
                self.fail(p, &e);
                ok = false;
            }
        }
        Ok(ok)
    }

    async fn put(&self, args: &[&String], overwrite: bool) -> anyhow::Result<bool> {
        let Some((dst, sources)) = args.split_last() else {
            anyhow::bail!("-put: Not enough arguments: expected 1 but got 0");
        };
        anyhow::ensure!(
            !sources.is_empty(),
            "-put: Not enough arguments: expected 2 but got 1"
        );
        let dst = self.abs(dst).await?;
        let dst_is_dir = self.client.status(&dst).await?.is_some_and(|s| s.is_dir());
        anyhow::ensure!(
            sources.len() == 1 || dst_is_dir,
            "`{dst}': Is not a directory"
        );
        let mut ok = true;
        for src in sources {
            let target = if dst_is_dir {
                let name = Path::new(src.as_str())
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("-");
                format!("{}/{name}", dst.trim_end_matches('/'))
            } else {
                dst.clone()
            };
            let body = if src.as_str() == "-" {
                let stdin = tokio::io::stdin();
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(stdin))
            } else {
                match tokio::fs::File::open(src.as_str()).await {
                    Ok(f) => reqwest::Body::wrap_stream(
                        tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024),
                    ),
                    Err(e) => {
                        eprintln!("put: `{src}': {e}");
                        ok = false;
                        continue;
                    }
                }
            };
            if let Err(e) = self.client.create(&target, body, overwrite).await {
                match &e {
                    ClientError::Remote { exception, .. }
                        if exception == "FileAlreadyExistsException" =>
                    {
                        eprintln!("put: `{target}': File exists");
                    }
                    _ => self.fail(&target, &e),
                }
                ok = false;
            }
        }
        Ok(ok)
    }

    async fn get(&self, args: &[&String], overwrite: bool) -> anyhow::Result<bool> {
        let [src, local] = args else {
            anyhow::bail!("-get: expected <src> <localdst>");
        };
        let abs = self.abs(src).await?;
        let mut local = PathBuf::from(local.as_str());
        if local.is_dir() {
            let name = abs.rsplit('/').next().unwrap_or("file");
            local.push(name);
        }
        if local.exists() && !overwrite {
            eprintln!("get: `{}': File exists", local.display());
            return Ok(false);
        }
        let resp = match self.client.open(&abs, 0, None).await {
            Ok(r) => r,
            Err(e) => {
                self.fail(src, &e);
                return Ok(false);
            }
        };
        // Into a temp file beside the target, renamed once complete (as Hadoop's ._COPYING_).
        let tmp = local.with_file_name(format!(
            "{}._COPYING_",
            local.file_name().and_then(|n| n.to_str()).unwrap_or("file")
        ));
        let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(&tmp).await?);
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => out.write_all(&c).await?,
                Err(e) => {
                    drop(out);
                    let _ = tokio::fs::remove_file(&tmp).await;
                    anyhow::bail!("reading {abs}: {e}");
                }
            }
        }
        out.flush().await?;
        tokio::fs::rename(&tmp, &local).await?;
        Ok(true)
    }

    async fn cat(&self, paths: &[&String]) -> anyhow::Result<bool> {
        let mut ok = true;
        for p in paths {
            let abs = self.abs(p).await?;
            if !self.stream_to_stdout(&abs, 0, None).await? {
                ok = false;
            }
        }
        Ok(ok)
    }

    async fn stream_to_stdout(
        &self,
        abs: &str,
        offset: u64,
        len: Option<u64>,
    ) -> anyhow::Result<bool> {
        let resp = match self.client.open(abs, offset, len).await {
            Ok(r) => r,
            Err(e) => {
                self.fail(abs, &e);
                return Ok(false);
            }
        };
        let mut stream = resp.bytes_stream();
        let mut stdout = std::io::stdout().lock();
        while let Some(chunk) = stream.next().await {
            stdout.write_all(&chunk?)?;
        }
        stdout.flush()?;
        Ok(true)
    }

    async fn rm(&self, paths: &[&String], recursive: bool, force: bool) -> anyhow::Result<bool> {
        let mut ok = true;
        for p in paths {
            let abs = self.abs(p).await?;
            match self.client.status(&abs).await? {
                None if force => {}
                None => {
                    eprintln!("rm: `{p}': No such file or directory");
                    ok = false;
                }
                Some(s) if s.is_dir() && !recursive => {
                    eprintln!("rm: `{p}': Is a directory");
                    ok = false;
                }
                Some(_) => match self.client.delete(&abs, recursive).await {
                    Ok(_) => println!("Deleted {p}"),
                    Err(e) => {
                        self.fail(p, &e);
                        ok = false;
                    }
                },
            }
        }
        Ok(ok)
    }

    async fn du(&self, paths: &[&String], summary: bool, human: bool) -> anyhow::Result<bool> {
        let default = String::from(".");
        let paths: Vec<&String> = if paths.is_empty() {
            vec![&default]
        } else {
            paths.to_vec()
        };
        let size = |n: u64| if human { human_size(n) } else { n.to_string() };
        let mut ok = true;
        for p in paths {
            let abs = self.abs(p).await?;
            let Some(status) = self.client.status(&abs).await? else {
                eprintln!("du: `{p}': No such file or directory");
                ok = false;
                continue;
            };
            if summary || !status.is_dir() {
                let c = self.client.content_summary(&abs).await?;
                println!("{:<10} {:<10} {p}", size(c.length), size(c.space_consumed));
                continue;
            }
            let base = abs.trim_end_matches('/');
            for e in self.client.list(&abs).await? {
                let child = format!("{base}/{}", e.path_suffix);
                let c = self.client.content_summary(&child).await?;
                println!(
                    "{:<10} {:<10} {child}",
                    size(c.length),
                    size(c.space_consumed)
                );
            }
        }
        Ok(ok)
    }

    async fn tail(&self, paths: &[&String], follow: bool) -> anyhow::Result<bool> {
        let [p] = paths else {
            anyhow::bail!("-tail: expected one file");
        };
        let abs = self.abs(p).await?;
        let Some(status) = self.client.status(&abs).await? else {
            eprintln!("tail: `{p}': No such file or directory");
            return Ok(false);
        };
        anyhow::ensure!(!status.is_dir(), "`{p}': Is a directory");
        let mut offset = status.length.saturating_sub(1024);
        loop {
            let len = self.client.status(&abs).await?.map_or(0, |s| s.length);
            if len > offset {
                if !self
                    .stream_to_stdout(&abs, offset, Some(len - offset))
                    .await?
                {
                    return Ok(false);
                }
                offset = len;
            }
            if !follow {
                return Ok(true);
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    }

    async fn mv(&self, args: &[&String]) -> anyhow::Result<bool> {
        let Some((dst, sources)) = args.split_last() else {
            anyhow::bail!("-mv: Not enough arguments");
        };
        let dst = self.abs(dst).await?;
        let mut ok = true;
        for src in sources {
            let abs = self.abs(src).await?;
            if !self.client.rename(&abs, &dst).await? {
                eprintln!("mv: `{src}': Input/output error");
                ok = false;
            }
        }
        Ok(ok)
    }
}

/// One line of `-ls`, as Hadoop prints it.
fn ls_line(s: &FileStatus, path: &str) -> String {
    let perm = u16::from_str_radix(&s.permission, 8).unwrap_or(0);
    let mut mode = String::from(if s.is_dir() { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = (perm >> shift) & 7;
        mode.push(if bits & 4 != 0 { 'r' } else { '-' });
        mode.push(if bits & 2 != 0 { 'w' } else { '-' });
        mode.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let repl = if s.is_dir() {
        "-".to_string()
    } else {
        s.replication.to_string()
    };
    format!(
        "{mode}   {repl:>1} {} {} {:>10} {} {path}",
        s.owner,
        s.group,
        s.length,
        format_time(s.modification_time)
    )
}

/// `yyyy-MM-dd HH:mm` (UTC) from ms since the epoch.
fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Sizes as `-du -h` prints them.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS.get(unit).unwrap_or(&"P"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_print_as_hadoop_does() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13");
        assert_eq!(human_size(1536), "1.5 K");
        assert_eq!(human_size(12), "12");
    }
}
