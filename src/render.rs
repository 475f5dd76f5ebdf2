//! Handlebars templates → node config files, in the daemons' own formats (Kafka's
//! `server.properties`, ZooKeeper's `zoo.cfg`), so the same files would configure Apache's daemons.
//!
//! Templates see the file's own `vars` plus, per node:
//! - `root`: where the node's file system starts (empty in a container, the node's data dir in
//!   the process runtime); `kafka_home`, `hadoop_home`: the installs under it;
//! - `bind`: the address servers listen on (`0.0.0.0` in a container, `127.0.0.1` as processes);
//! - `{{addr [node]}}`: a node's address on the lab network;
//! - `{{port N [node]}}`: the port that node port N really is on the lab network;
//! - `{{host_port N [node]}}`: the host port node port N is published on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use serde_json::{Value, json};

/// How a runtime lays the lab out: what templates need to write addresses, ports and paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Layout {
    /// The address servers bind to.
    pub(crate) bind: String,
    /// Per node: its file system root (empty in a container).
    pub(crate) roots: BTreeMap<String, String>,
    /// Per node: its address on the lab network.
    pub(crate) addrs: BTreeMap<String, String>,
    /// Per (node, node port): the port it is on the lab network.
    pub(crate) ports: BTreeMap<(String, u16), u16>,
    /// Per (node, node port): the host port it is published on.
    pub(crate) host_ports: BTreeMap<(String, u16), u16>,
}

/// A rendering failure, naming the template or string and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderFailure {
    /// A template file could not be read.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The template file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The template is malformed or refers to something unknown.
    #[error("cannot render {what} for node `{node}`: {source}")]
    Render {
        /// The template file or spec string.
        what: String,
        /// The node it was rendered for.
        node: String,
        /// Handlebars' reason.
        source: Box<RenderError>,
    },
}

/// Renders templates for one node of a laid-out lab.
#[derive(Debug)]
pub(crate) struct Renderer<'a> {
    registry: Handlebars<'a>,
    base: BTreeMap<String, Value>,
    node: String,
}

impl Renderer<'_> {
    /// A renderer for `node`, strict: an unknown variable is an error, nothing is HTML-escaped.
    pub(crate) fn new(layout: &Layout, lab: &str, node: &str) -> Renderer<'static> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        let shared = Arc::new(layout.clone());
        for (name, lookup) in [
            ("addr", Lookup::Addr),
            ("port", Lookup::Port),
            ("host_port", Lookup::HostPort),
        ] {
            registry.register_helper(
                name,
                Box::new(LayoutHelper {
                    layout: shared.clone(),
                    node: node.to_owned(),
                    lookup,
                }),
            );
        }
        let root = layout.roots.get(node).cloned().unwrap_or_default();
        let base = BTreeMap::from([
            ("lab".to_owned(), json!(lab)),
            ("node".to_owned(), json!(node)),
            ("bind".to_owned(), json!(layout.bind)),
            (
                "kafka_home".to_owned(),
                json!(format!("{root}/usr/local/kafka")),
            ),
            (
                "hadoop_home".to_owned(),
                json!(format!("{root}/usr/local/hadoop")),
            ),
            ("root".to_owned(), json!(root)),
        ]);
        Renderer {
            registry,
            base,
            node: node.to_owned(),
        }
    }

    /// Renders a short template string from the spec (a path, a command word).
    pub(crate) fn string(&self, template: &str) -> Result<String, RenderFailure> {
        self.render(template, &BTreeMap::new(), &format!("`{template}`"))
    }

    /// Renders a template file with extra variables.
    pub(crate) fn file(
        &self,
        path: &Path,
        vars: &BTreeMap<String, Value>,
    ) -> Result<String, RenderFailure> {
        let text = std::fs::read_to_string(path).map_err(|source| RenderFailure::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.render(&text, vars, &path.display().to_string())
    }

    fn render(
        &self,
        template: &str,
        vars: &BTreeMap<String, Value>,
        what: &str,
    ) -> Result<String, RenderFailure> {
        let mut data = self.base.clone();
        data.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.registry
            .render_template(template, &data)
            .map_err(|e| RenderFailure::Render {
                what: what.to_owned(),
                node: self.node.clone(),
                source: Box::new(e),
            })
    }
}

/// Which layout table a helper reads.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Addr,
    Port,
    HostPort,
}

/// `{{addr [node]}}`, `{{port N [node]}}`, `{{host_port N [node]}}`.
#[derive(Debug)]
struct LayoutHelper {
    layout: Arc<Layout>,
    node: String,
    lookup: Lookup,
}

impl HelperDef for LayoutHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = h.name();
        let fail = |msg: String| -> RenderError { RenderErrorReason::Other(msg).into() };
        let node_param = |idx: usize| -> Result<String, RenderError> {
            match h.param(idx) {
                None => Ok(self.node.clone()),
                Some(p) => p.value().as_str().map(str::to_owned).ok_or_else(|| {
                    fail(format!("{name}: expected a node name, got {}", p.value()))
                }),
            }
        };
        let text = match self.lookup {
            Lookup::Addr => {
                let node = node_param(0)?;
                self.layout
                    .addrs
                    .get(&node)
                    .cloned()
                    .ok_or_else(|| fail(format!("addr: no node `{node}` in this lab")))?
            }
            Lookup::Port | Lookup::HostPort => {
                let port = h
                    .param(0)
                    .and_then(|p| p.value().as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| fail(format!("{name}: expected a port number (0-65535)")))?;
                let node = node_param(1)?;
                let table = match self.lookup {
                    Lookup::Port => &self.layout.ports,
                    _ => &self.layout.host_ports,
                };
                let found = table.get(&(node.clone(), port)).ok_or_else(|| {
                    fail(match self.lookup {
                        Lookup::Port => format!("port: node `{node}` does not declare port {port}"),
                        _ => format!("host_port: port {port} of node `{node}` is not published"),
                    })
                })?;
                found.to_string()
            }
        };
        out.write(&text)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            bind: "0.0.0.0".into(),
            roots: BTreeMap::from([("m".into(), String::new())]),
            addrs: BTreeMap::from([("m".into(), "m".into()), ("s".into(), "s".into())]),
            ports: BTreeMap::from([(("m".into(), 1), 1), (("s".into(), 2), 2002)]),
            host_ports: BTreeMap::from([(("m".into(), 1), 101)]),
        }
    }

    #[test]
    fn helpers_resolve_through_the_layout() {
        let r = Renderer::new(&layout(), "tp3", "m");
        let out = r.string("{{addr}}:{{port 1}} {{host_port 1}} {{addr \"s\"}}:{{port 2 \"s\"}} {{kafka_home}}").unwrap();
        assert_eq!(out, "m:1 101 s:2002 /usr/local/kafka");
    }

    #[test]
    fn an_unknown_variable_or_port_is_an_error() {
        let r = Renderer::new(&layout(), "tp3", "m");
        let err = r.string("{{nope}}").unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        let err = r.string("{{host_port 7}}").unwrap_err().to_string();
        assert!(err.contains("port 7 of node `m` is not published"), "{err}");
    }

    #[test]
    fn nothing_is_html_escaped() {
        let r = Renderer::new(&layout(), "tp3", "m");
        assert_eq!(r.string("{{bind}}&<>").unwrap(), "0.0.0.0&<>");
    }
}
