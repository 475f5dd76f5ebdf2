//! The WebHDFS calls. CREATE, APPEND and OPEN follow Hadoop's two steps by hand, so the body is
//! sent once, to the address the namenode names.

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::path::HdfsPath;

/// Why a WebHDFS call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a `RemoteException`.
    #[error("{exception}: {message}")]
    Remote {
        /// HTTP status.
        status: u16,
        /// Java exception name (`FileNotFoundException`, …).
        exception: String,
        /// Its message.
        message: String,
    },
    /// The request did not get an answer.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The answer is not what WebHDFS sends.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// A bad path given by the caller.
    #[error("{0}")]
    Path(#[from] crate::path::PathError),
}

impl ClientError {
    /// True for a `FileNotFoundException`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Remote { status: 404, .. })
    }
}

/// Hadoop's `FileStatus`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStatus {
    /// Name within the listed directory (`""` for the path itself).
    pub path_suffix: String,
    /// `FILE` or `DIRECTORY`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes.
    pub length: u64,
    /// Owner.
    pub owner: String,
    /// Group.
    pub group: String,
    /// Octal permission, as text.
    pub permission: String,
    /// Replicas wanted (0 for directories).
    pub replication: u16,
    /// Block size.
    pub block_size: u64,
    /// Modification time, ms.
    pub modification_time: u64,
}

impl FileStatus {
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == "DIRECTORY"
    }
}

/// Hadoop's `ContentSummary`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentSummary {
    /// Directories, the path itself included.
    pub directory_count: u64,
    /// Files.
    pub file_count: u64,
    /// Bytes in files.
    pub length: u64,
    /// Bytes on disk, replicas included.
    pub space_consumed: u64,
}

/// A WebHDFS endpoint and the user to act as.
#[derive(Debug, Clone)]
pub struct WebHdfs {
    base: String,
    user: String,
    http: reqwest::Client,
}

impl WebHdfs {
    /// A client of `base` (`http://host:port`) acting as `user`.
    pub fn new(base: &str, user: &str) -> Result<WebHdfs, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(WebHdfs {
            base: base.trim_end_matches('/').to_string(),
            user: user.to_string(),
            http,
        })
    }

    /// The endpoint.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &HdfsPath, op: &str, extra: &[(&str, &str)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("op", op);
        query.append_pair("user.name", &self.user);
        for (k, v) in extra {
            query.append_pair(k, v);
        }
        format!(
            "{}/webhdfs/v1{}?{}",
            self.base,
            path.to_url(),
            query.finish()
        )
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        op: &str,
        extra: &[(&str, &str)],
    ) -> Result<reqwest::Response, ClientError> {
        let path = HdfsPath::parse(path)?;
        let resp = self
            .http
            .request(method, self.url(&path, op, extra))
            .send()
            .await?;
        check(resp).await
    }

    async fn json<T: serde::de::DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// GETFILESTATUS; `None` when the path does not exist.
    pub async fn status(&self, path: &str) -> Result<Option<FileStatus>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            file_status: FileStatus,
        }
        match self.call(Method::GET, path, "GETFILESTATUS", &[]).await {
            Ok(resp) => Ok(Some(Self::json::<Reply>(resp).await?.file_status)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// LISTSTATUS.
    pub async fn list(&self, path: &str) -> Result<Vec<FileStatus>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Inner {
            file_status: Vec<FileStatus>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            file_statuses: Inner,
        }
        let resp = self.call(Method::GET, path, "LISTSTATUS", &[]).await?;
        Ok(Self::json::<Reply>(resp).await?.file_statuses.file_status)
    }

    /// GETCONTENTSUMMARY.
    pub async fn content_summary(&self, path: &str) -> Result<ContentSummary, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            content_summary: ContentSummary,
        }
        let resp = self
            .call(Method::GET, path, "GETCONTENTSUMMARY", &[])
            .await?;
        Ok(Self::json::<Reply>(resp).await?.content_summary)
    }

    /// GETHOMEDIRECTORY.
    pub async fn home(&self) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            path: String,
        }
        let resp = self.call(Method::GET, "/", "GETHOMEDIRECTORY", &[]).await?;
        Ok(Self::json::<Reply>(resp).await?.path)
    }

    async fn boolean(
        &self,
        method: Method,
        path: &str,
        op: &str,
        extra: &[(&str, &str)],
    ) -> Result<bool, ClientError> {
        #[derive(Deserialize)]
        struct Reply {
            boolean: bool,
        }
        let resp = self.call(method, path, op, extra).await?;
        Ok(Self::json::<Reply>(resp).await?.boolean)
    }

    /// MKDIRS (parents included).
    pub async fn mkdirs(&self, path: &str) -> Result<bool, ClientError> {
        self.boolean(Method::PUT, path, "MKDIRS", &[]).await
    }

    /// DELETE; false when nothing was there.
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<bool, ClientError> {
        let recursive = if recursive { "true" } else { "false" };
        self.boolean(Method::DELETE, path, "DELETE", &[("recursive", recursive)])
            .await
    }

    /// RENAME; false when HDFS refuses (source missing, destination taken).
    pub async fn rename(&self, src: &str, dst: &str) -> Result<bool, ClientError> {
        HdfsPath::parse(dst)?;
        self.boolean(Method::PUT, src, "RENAME", &[("destination", dst)])
            .await
    }

    /// Step one of a two-step op: the `Location` the namenode redirects to.
    async fn location(
        &self,
        method: Method,
        path: &str,
        op: &str,
        extra: &[(&str, &str)],
    ) -> Result<String, ClientError> {
        let resp = self.call(method, path, op, extra).await?;
        resp.headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol(format!("{op} answered without a Location")))
    }

    /// CREATE: writes `body` as the whole file.
    pub async fn create(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        overwrite: bool,
    ) -> Result<(), ClientError> {
        let overwrite = if overwrite { "true" } else { "false" };
        let location = self
            .location(Method::PUT, path, "CREATE", &[("overwrite", overwrite)])
            .await?;
        let resp = self.http.put(location).body(body).send().await?;
        check(resp).await.map(drop)
    }

    /// APPEND: adds `body` at the end of the file.
    pub async fn append(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(), ClientError> {
        let location = self.location(Method::POST, path, "APPEND", &[]).await?;
        let resp = self.http.post(location).body(body).send().await?;
        check(resp).await.map(drop)
    }

    /// OPEN: the response streams the bytes (`bytes_stream`, `chunk`).
    pub async fn open(
        &self,
        path: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<reqwest::Response, ClientError> {
        let offset = offset.to_string();
        let length = length.map(|l| l.to_string());
        let mut extra = vec![("offset", offset.as_str())];
        if let Some(l) = &length {
            extra.push(("length", l.as_str()));
        }
        let location = self.location(Method::GET, path, "OPEN", &extra).await?;
        let resp = self.http.get(location).send().await?;
        check(resp).await
    }

    /// OPEN, the whole file in memory (small files only).
    pub async fn read_all(&self, path: &str) -> Result<Bytes, ClientError> {
        Ok(self.open(path, 0, None).await?.bytes().await?)
    }
}

/// Turns a non-2xx/3xx answer into [`ClientError::Remote`].
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = resp.status();
    if status.is_success() || status == StatusCode::TEMPORARY_REDIRECT {
        return Ok(resp);
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Remote {
        exception: String,
        message: String,
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "RemoteException")]
        remote: Remote,
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let (exception, message) = match serde_json::from_slice::<Reply>(&bytes) {
        Ok(r) => (r.remote.exception, r.remote.message),
        Err(_) => (
            format!("HTTP {status}"),
            String::from_utf8_lossy(bytes.get(..bytes.len().min(500)).unwrap_or(&[])).into_owned(),
        ),
    };
    Err(ClientError::Remote {
        status: status.as_u16(),
        exception,
        message,
    })
}
