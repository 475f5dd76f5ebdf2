//! WebHDFS on the namenode: `/webhdfs/v1/<path>?op=…`, Hadoop's JSON shapes and
//! `RemoteException` errors. JSON replies carry no `Content-Type` (PySpark's bundled client
//! breaks on one); op names, parameter names and booleans are case-insensitive.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::data::{self, FileWriter};
use super::{NameNode, now_ms};
use crate::error::FsError;
use crate::gather::Gather;
use crate::namespace::{Meta, Namespace, Node, Op};
use webhdfs_client::path::HdfsPath;

/// Most query parameters we read from one request.
const MAX_PARAMS: usize = 64;
/// Longest query string we read.
const MAX_QUERY_BYTES: usize = 16 * 1024;
/// The user when a request names none, as in Hadoop.
const DEFAULT_USER: &str = "dr.who";
/// The marker of step two of CREATE/APPEND/OPEN (the parameter Hadoop's redirects carry).
const STEP_TWO: &str = "namenoderpcaddress";

/// Every WebHDFS request lands here.
pub(super) async fn handle(
    State(nn): State<Arc<NameNode>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(&nn, &method, &uri, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => error_reply(&e),
    }
}

/// A Hadoop `RemoteException` reply.
fn error_reply(e: &FsError) -> Response {
    json_reply(
        e.status(),
        &json!({"RemoteException": {
            "exception": e.exception(),
            "javaClassName": e.java_class_name(),
            "message": e.to_string(),
        }}),
    )
}

/// A JSON reply without `Content-Type`.
fn json_reply(status: StatusCode, value: &Value) -> Response {
    let body = value.to_string();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp
}

fn boolean_reply(b: bool) -> Response {
    json_reply(StatusCode::OK, &json!({ "boolean": b }))
}

fn empty_reply(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(0));
    resp
}

/// The query parameters, names lower-cased.
#[derive(Debug)]
struct Params {
    raw: String,
    map: HashMap<String, String>,
}

impl Params {
    fn parse(query: Option<&str>) -> Result<Params, FsError> {
        let raw = query.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(FsError::IllegalArgument("query string too long".into()));
        }
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if map.len() >= MAX_PARAMS {
                return Err(FsError::IllegalArgument("too many parameters".into()));
            }
            map.insert(k.to_ascii_lowercase(), v.into_owned());
        }
        Ok(Params {
            raw: raw.to_string(),
            map,
        })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn invalid(key: &str, value: &str) -> FsError {
        FsError::IllegalArgument(format!(
            "Invalid value for webhdfs parameter \"{key}\": {value}"
        ))
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, FsError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Params::invalid(key, v)),
        }
    }

    fn u64(&self, key: &str) -> Result<Option<u64>, FsError> {
        self.get(key)
            .map(|v| v.parse::<u64>().map_err(|_| Params::invalid(key, v)))
            .transpose()
    }

    /// A time parameter: `-1` means "unchanged", as in Hadoop.
    fn time(&self, key: &str) -> Result<Option<u64>, FsError> {
        match self.get(key) {
            Some("-1") | None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| Params::invalid(key, v)),
        }
    }

    fn permission(&self, default: u16) -> Result<u16, FsError> {
        match self.get("permission") {
            None => Ok(default),
            Some(v) => u16::from_str_radix(v, 8)
                .ok()
                .filter(|p| v.len() <= 4 && *p <= 0o1777)
                .ok_or_else(|| Params::invalid("permission", v)),
        }
    }

    fn replication(&self, default: u16) -> Result<u16, FsError> {
        match self.u64("replication")? {
            None => Ok(default),
            Some(n) => u16::try_from(n)
                .ok()
                .filter(|n| (1..=512).contains(n))
                .ok_or_else(|| Params::invalid("replication", &n.to_string())),
        }
    }

    fn blocksize(&self, default: u64) -> Result<u64, FsError> {
        match self.u64("blocksize")? {
            None => Ok(default),
            Some(n)
                if (crate::config::MIN_BLOCKSIZE..=crate::config::MAX_BLOCKSIZE).contains(&n) =>
            {
                Ok(n)
            }
            Some(n) => Err(Params::invalid("blocksize", &n.to_string())),
        }
    }

    /// A user or group name (`user.name`, `owner`, `group`).
    fn name(&self, key: &str) -> Result<Option<String>, FsError> {
        match self.get(key) {
            None => Ok(None),
            Some(v)
                if v.len() <= 255 && !v.chars().any(|c| c.is_control() || c == '/' || c == ':') =>
            {
                Ok(Some(v.to_string()))
            }
            Some(v) => Err(Params::invalid(key, v)),
        }
    }

    fn user(&self) -> Result<String, FsError> {
        Ok(self
            .name("user.name")?
            .or(self.name("doas")?)
            .unwrap_or_else(|| DEFAULT_USER.to_string()))
    }
}

async fn dispatch(
    nn: &Arc<NameNode>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, FsError> {
    let raw_path = uri
        .path()
        .strip_prefix("/webhdfs/v1")
        .ok_or_else(|| FsError::IllegalArgument("not a WebHDFS path".into()))?;
    let path = HdfsPath::from_url(raw_path)?;
    let params = Params::parse(uri.query())?;
    let op = params
        .get("op")
        .ok_or_else(|| FsError::IllegalArgument("op=NULLOP is not supported".into()))?
        .to_ascii_uppercase();
    params.user()?;
    let step_two = params.get(STEP_TWO).is_some();
    if *method != Method::GET && nn.block_map().in_safe_mode() {
        return Err(FsError::SafeMode(format!("{op} {path}")));
    }
    match (method.as_str(), op.as_str()) {
        ("GET", "GETFILESTATUS") => file_status(nn, &path),
        ("GET", "LISTSTATUS") => list_status(nn, &path),
        ("GET", "LISTSTATUS_BATCH") => list_batch(nn, &path, params.get("startafter")),
        ("GET", "GETCONTENTSUMMARY") => content_summary(nn, &path),
        ("GET", "GETHOMEDIRECTORY") => Ok(json_reply(
            StatusCode::OK,
            &json!({"Path": format!("/user/{}", params.user()?)}),
        )),
        ("GET", "GETTRASHROOT") => Ok(json_reply(
            StatusCode::OK,
            &json!({"Path": format!("/user/{}/.Trash", params.user()?)}),
        )),
        ("GET", "GETFILEBLOCKLOCATIONS") => block_locations(nn, &path, &params),
        ("GET", "OPEN") if step_two => open(nn, &path, &params),
        ("GET", "OPEN") => {
            params.u64("offset")?;
            params.u64("length")?;
            nn.read(|ns| file_of(ns, &path).map(|_| ()))?;
            redirect(nn, &path, &params, headers, "OPEN")
        }
        ("PUT", "CREATE") if step_two => create(nn, &path, &params, body).await,
        ("PUT", "CREATE") => {
            check_create(nn, &path, &params)?;
            redirect(nn, &path, &params, headers, "CREATE")
        }
        ("POST", "APPEND") if step_two => append(nn, &path, &params, body).await,
        ("POST", "APPEND") => {
            nn.read(|ns| file_of(ns, &path).map(|_| ()))?;
            redirect(nn, &path, &params, headers, "APPEND")
        }
        ("PUT", "MKDIRS") => {
            let op = Op::Mkdirs {
                path: path.to_string(),
                perm: params.permission(0o755)?,
                owner: params.user()?,
                group: "supergroup".into(),
                time: now_ms(),
            };
            Ok(boolean_reply(nn.apply(op).await?.boolean))
        }
        ("PUT", "RENAME") => {
            let dst = params
                .get("destination")
                .ok_or_else(|| Params::invalid("destination", "null"))?;
            let op = Op::Rename {
                src: path.to_string(),
                dst: HdfsPath::parse(dst)?.to_string(),
                time: now_ms(),
            };
            Ok(boolean_reply(nn.apply(op).await?.boolean))
        }
        ("DELETE", "DELETE") => {
            let op = Op::Delete {
                path: path.to_string(),
                recursive: params.bool("recursive", false)?,
            };
            Ok(boolean_reply(nn.apply(op).await?.boolean))
        }
        ("PUT", "SETPERMISSION") => {
            let op = Op::SetPermission {
                path: path.to_string(),
                perm: params.permission(0o755)?,
            };
            nn.apply(op).await?;
            Ok(empty_reply(StatusCode::OK))
        }
        ("PUT", "SETOWNER") => {
            let (owner, group) = (params.name("owner")?, params.name("group")?);
            if owner.is_none() && group.is_none() {
                return Err(FsError::IllegalArgument(
                    "Both owner and group are empty.".into(),
                ));
            }
            let op = Op::SetOwner {
                path: path.to_string(),
                owner,
                group,
            };
            nn.apply(op).await?;
            Ok(empty_reply(StatusCode::OK))
        }
        ("PUT", "SETTIMES") => {
            let op = Op::SetTimes {
                path: path.to_string(),
                mtime: params.time("modificationtime")?,
                atime: params.time("accesstime")?,
            };
            nn.apply(op).await?;
            Ok(empty_reply(StatusCode::OK))
        }
        ("PUT", "SETREPLICATION") => {
            let replication = params.replication(nn.settings.replication)?;
            let op = Op::SetReplication {
                path: path.to_string(),
                replication,
            };
            let applied = nn.apply(op).await?;
            if applied.changed {
                let blocks = nn.read(|ns| file_of(ns, &path).map(|f| f.blocks.clone()))?;
                nn.block_map().set_replication(&blocks, replication);
            }
            Ok(boolean_reply(applied.boolean))
        }
        (_, op) if KNOWN_OPS.contains(&op) => Err(FsError::IllegalArgument(format!(
            "Invalid value for webhdfs parameter \"op\": {op} is not a {method} operation"
        ))),
        (_, op) => Err(FsError::Unsupported(format!(
            "Invalid value for webhdfs parameter \"op\": No enum constant {op}"
        ))),
    }
}

/// Ops we serve, to tell a wrong method from an unknown op.
const KNOWN_OPS: &[&str] = &[
    "GETFILESTATUS",
    "LISTSTATUS",
    "LISTSTATUS_BATCH",
    "GETCONTENTSUMMARY",
    "GETHOMEDIRECTORY",
    "GETTRASHROOT",
    "GETFILEBLOCKLOCATIONS",
    "OPEN",
    "CREATE",
    "APPEND",
    "MKDIRS",
    "RENAME",
    "DELETE",
    "SETPERMISSION",
    "SETOWNER",
    "SETTIMES",
    "SETREPLICATION",
];

fn file_of<'a>(ns: &'a Namespace, path: &HdfsPath) -> Result<&'a crate::namespace::File, FsError> {
    if path.is_root() {
        return Err(FsError::WrongType("/ is a directory".into()));
    }
    match ns.get(path)? {
        Node::File(f) => Ok(f),
        Node::Dir(_) => Err(FsError::WrongType(format!("{path} is a directory"))),
    }
}

/// Hadoop's `FileStatus` object.
fn status_json(name: &str, node: Option<&Node>, root: &Meta) -> Value {
    let (meta, kind, len, blocksize, replication, children) = match node {
        None => (root, "DIRECTORY", 0, 0, 0, 0),
        Some(Node::Dir(d)) => (&d.meta, "DIRECTORY", 0, 0, 0, d.children.len()),
        Some(Node::File(f)) => (&f.meta, "FILE", f.len(), f.blocksize, f.replication, 0),
    };
    json!({
        "accessTime": meta.atime,
        "blockSize": blocksize,
        "childrenNum": children,
        "fileId": meta.id,
        "group": meta.group,
        "length": len,
        "modificationTime": meta.mtime,
        "owner": meta.owner,
        "pathSuffix": name,
        "permission": format!("{:o}", meta.perm),
        "replication": replication,
        "storagePolicy": 0,
        "type": kind,
    })
}

fn file_status(nn: &NameNode, path: &HdfsPath) -> Result<Response, FsError> {
    let status = nn.read(|ns| {
        let node = if path.is_root() {
            None
        } else {
            Some(ns.get(path)?)
        };
        Ok::<_, FsError>(status_json("", node, &ns.root.meta))
    })?;
    Ok(json_reply(StatusCode::OK, &json!({ "FileStatus": status })))
}

fn list_status(nn: &NameNode, path: &HdfsPath) -> Result<Response, FsError> {
    let list = nn.read(|ns| {
        let entries: Vec<Value> = if path.is_root() {
            ns.root
                .children
                .iter()
                .map(|(n, c)| status_json(n, Some(c), &ns.root.meta))
                .collect()
        } else {
            match ns.get(path)? {
                Node::Dir(d) => d
                    .children
                    .iter()
                    .map(|(n, c)| status_json(n, Some(c), &ns.root.meta))
                    .collect(),
                file @ Node::File(_) => vec![status_json("", Some(file), &ns.root.meta)],
            }
        };
        Ok::<_, FsError>(entries)
    })?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({"FileStatuses": {"FileStatus": list}}),
    ))
}

/// Entries per LISTSTATUS_BATCH reply (Hadoop's `dfs.ls.limit`).
const LIST_BATCH: usize = 1000;

/// LISTSTATUS_BATCH: a directory listed in pages, each after the name `start_after`.
fn list_batch(
    nn: &NameNode,
    path: &HdfsPath,
    start_after: Option<&str>,
) -> Result<Response, FsError> {
    let (entries, remaining) = nn.read(|ns| {
        let dir = ns.dir(path).map_err(|e| match e {
            FsError::ParentNotDirectory(_) => {
                FsError::WrongType(format!("{path} is not a directory"))
            }
            other => other,
        })?;
        let after = |name: &String| start_after.is_none_or(|s| name.as_str() > s);
        let mut rest = dir.children.iter().filter(|(n, _)| after(n));
        let entries: Vec<Value> = rest
            .by_ref()
            .take(LIST_BATCH)
            .map(|(n, c)| status_json(n, Some(c), &ns.root.meta))
            .collect();
        Ok::<_, FsError>((entries, rest.count()))
    })?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({"DirectoryListing": {
            "partialListing": {"FileStatuses": {"FileStatus": entries}},
            "remainingEntries": remaining,
        }}),
    ))
}

fn content_summary(nn: &NameNode, path: &HdfsPath) -> Result<Response, FsError> {
    let (dirs, files, len, consumed) = nn.read(|ns| {
        if path.is_root() {
            Ok(Namespace::dir_summary(&ns.root))
        } else {
            ns.get(path).map(Namespace::summary)
        }
    })?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({"ContentSummary": {
            "directoryCount": dirs,
            "fileCount": files,
            "length": len,
            "quota": -1,
            "spaceConsumed": consumed,
            "spaceQuota": -1,
            "typeQuota": {},
        }}),
    ))
}

fn block_locations(nn: &NameNode, path: &HdfsPath, params: &Params) -> Result<Response, FsError> {
    let blocks = nn.read(|ns| file_of(ns, path).map(|f| f.blocks.clone()))?;
    let offset = params.u64("offset")?.unwrap_or(0);
    let length = params.u64("length")?.unwrap_or(u64::MAX);
    let end = offset.saturating_add(length);
    let map = nn.block_map();
    let mut start = 0u64;
    let mut out = Vec::new();
    for b in &blocks {
        if start + b.len > offset && start < end || (b.len == 0 && start == offset) {
            let replicas = map.replicas(b.id);
            let names: Vec<&String> = replicas.iter().map(|(_, addr)| addr).collect();
            let hosts: Vec<&str> = replicas
                .iter()
                .map(|(_, addr)| addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h))
                .collect();
            let topology: Vec<String> =
                names.iter().map(|n| format!("/default-rack/{n}")).collect();
            out.push(json!({
                "cachedHosts": [],
                "corrupt": false,
                "hosts": hosts,
                "length": b.len,
                "names": names,
                "offset": start,
                "storageTypes": vec!["DISK"; replicas.len()],
                "topologyPaths": topology,
            }));
        }
        start += b.len;
    }
    Ok(json_reply(
        StatusCode::OK,
        &json!({"BlockLocations": {"BlockLocation": out}}),
    ))
}

/// Step one of CREATE/APPEND/OPEN: a 307 to the namenode itself, at the host and port the
/// client used (its `Host` header), so it works through published ports too.
fn redirect(
    nn: &NameNode,
    path: &HdfsPath,
    params: &Params,
    headers: &HeaderMap,
    op: &str,
) -> Result<Response, FsError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .ok_or_else(|| FsError::IllegalArgument("a valid Host header is required".into()))?;
    let mut query = params.raw.clone();
    if query.is_empty() {
        query = format!("op={op}");
    }
    let location = format!(
        "http://{host}/webhdfs/v1{}?{query}&{STEP_TWO}={}",
        path.to_url(),
        nn.settings.rpc_address
    );
    if params.bool("noredirect", false)? {
        return Ok(json_reply(StatusCode::OK, &json!({ "Location": location })));
    }
    let mut resp = empty_reply(StatusCode::TEMPORARY_REDIRECT);
    let value = header::HeaderValue::from_str(&location)
        .map_err(|_| FsError::IllegalArgument("bad redirect location".into()))?;
    resp.headers_mut().insert(header::LOCATION, value);
    Ok(resp)
}

/// The checks of CREATE, made before any byte is read (step one) and again at commit.
fn check_create(nn: &NameNode, path: &HdfsPath, params: &Params) -> Result<(), FsError> {
    let overwrite = params.bool("overwrite", false)?;
    let create_parent = params.bool("createparent", true)?;
    params.permission(0o644)?;
    params.replication(nn.settings.replication)?;
    params.blocksize(nn.settings.blocksize)?;
    nn.read(|ns| {
        match ns.get(path) {
            _ if path.is_root() => {
                return Err(FsError::AlreadyExists(
                    "/ already exists as a directory".into(),
                ));
            }
            Ok(Node::Dir(_)) => {
                return Err(FsError::AlreadyExists(format!(
                    "{path} already exists as a directory"
                )));
            }
            Ok(Node::File(_)) if !overwrite => {
                return Err(FsError::AlreadyExists(format!(
                    "{path} for client already exists"
                )));
            }
            Err(FsError::ParentNotDirectory(p)) => return Err(FsError::ParentNotDirectory(p)),
            _ => {}
        }
        if !create_parent {
            ns.dir(&path.parent())?;
        }
        Ok(())
    })
}

/// Streams a request body into `writer`, bounded by `limit` bytes in all.
async fn pump(
    writer: &mut FileWriter,
    body: Body,
    mut written: u64,
    limit: u64,
) -> Result<(), FsError> {
    let mut stream = body.into_data_stream();
    // The socket hands over small pieces: gather them, so each trip to the datanodes is large.
    let mut gather = Gather::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FsError::Io(format!("reading the request body: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(FsError::Limit(format!(
                "file larger than the {limit} bytes allowed (dfs.webhdfs.max-file-size)"
            )));
        }
        if let Some(batch) = gather.push(chunk) {
            writer.write(batch).await?;
        }
    }
    writer.write(gather.take()).await
}

/// Step two of CREATE: store the blocks, then make the file appear in one journaled op.
async fn create(
    nn: &Arc<NameNode>,
    path: &HdfsPath,
    params: &Params,
    body: Body,
) -> Result<Response, FsError> {
    check_create(nn, path, params)?;
    let replication = params.replication(nn.settings.replication)?;
    let blocksize = params.blocksize(nn.settings.blocksize)?;
    let mut writer = FileWriter::new(nn.clone(), replication, blocksize);
    if let Err(e) = pump(&mut writer, body, 0, nn.settings.max_file_size).await {
        writer.abort();
        return Err(e);
    }
    let stored = writer.finish().await?;
    let op = Op::CreateFile {
        path: path.to_string(),
        perm: params.permission(0o644)?,
        owner: params.user()?,
        group: "supergroup".into(),
        time: now_ms(),
        replication,
        blocksize,
        blocks: stored.iter().map(|(b, _)| *b).collect(),
        overwrite: params.bool("overwrite", false)?,
        create_parent: params.bool("createparent", true)?,
    };
    commit(nn, op, &stored, replication).await?;
    let mut resp = empty_reply(StatusCode::CREATED);
    if let Ok(v) = header::HeaderValue::from_str(&format!(
        "hdfs://{}{}",
        nn.settings.rpc_address,
        path.to_url()
    )) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Journals the op that makes stored blocks part of a file; on failure the blocks are orphans.
async fn commit(
    nn: &Arc<NameNode>,
    op: Op,
    stored: &[(crate::namespace::Block, Vec<String>)],
    replication: u16,
) -> Result<(), FsError> {
    match nn.apply(op).await {
        Ok(_) => {
            nn.block_map().commit(stored, replication);
            Ok(())
        }
        Err(e) => {
            let ids: Vec<u64> = stored.iter().map(|(b, _)| b.id).collect();
            nn.block_map().abandon(&ids);
            Err(e)
        }
    }
}

/// Step two of APPEND: a partial last block is rewritten as a new block holding its old bytes
/// and the new ones (blocks are never changed in place), then the file's block list is
/// replaced in one journaled op, only if nobody changed it meanwhile.
async fn append(
    nn: &Arc<NameNode>,
    path: &HdfsPath,
    _params: &Params,
    body: Body,
) -> Result<Response, FsError> {
    let (old, replication, blocksize) =
        nn.read(|ns| file_of(ns, path).map(|f| (f.blocks.clone(), f.replication, f.blocksize)))?;
    let mut keep = old.clone();
    let mut writer = FileWriter::new(nn.clone(), replication, blocksize);
    let mut written = 0u64;
    if let Some(last) = keep.last().copied().filter(|b| b.len < blocksize) {
        keep.pop();
        let mut rx = data::read(nn.clone(), vec![last], 0, last.len);
        while let Some(chunk) = rx.recv().await {
            let result = match chunk {
                Ok(c) => writer.write(vec![c]).await,
                Err(e) => Err(FsError::Io(e.to_string())),
            };
            if let Err(e) = result {
                writer.abort();
                return Err(e);
            }
        }
        written = last.len;
    }
    let existing: u64 = keep.iter().map(|b| b.len).sum();
    let limit = nn.settings.max_file_size.saturating_sub(existing);
    if let Err(e) = pump(&mut writer, body, written, limit).await {
        writer.abort();
        return Err(e);
    }
    let stored = writer.finish().await?;
    let mut blocks = keep;
    blocks.extend(stored.iter().map(|(b, _)| *b));
    let op = Op::SetBlocks {
        path: path.to_string(),
        expected: old,
        blocks,
        time: now_ms(),
    };
    commit(nn, op, &stored, replication).await?;
    Ok(empty_reply(StatusCode::OK))
}

/// Step two of OPEN: stream the range, with its exact length announced.
fn open(nn: &Arc<NameNode>, path: &HdfsPath, params: &Params) -> Result<Response, FsError> {
    let blocks = nn.read(|ns| file_of(ns, path).map(|f| f.blocks.clone()))?;
    let len: u64 = blocks.iter().map(|b| b.len).sum();
    let offset = params.u64("offset")?.unwrap_or(0);
    if offset > len {
        return Err(FsError::Io(format!(
            "Offset={offset} out of the range [0, {len}); OPEN, path={path}"
        )));
    }
    let length = params.u64("length")?.unwrap_or(u64::MAX).min(len - offset);
    let rx = data::read(nn.clone(), blocks, offset, length);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}
