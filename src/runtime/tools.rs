//! Host tools lent to nodes (`tools: [python]` in the spec): each tool is a directory on the
//! host, built once and cached by content, mounted read-only at `/opt/lab/<tool>` with its
//! `bin/` on the node's PATH. The node image stays as small as it is; a tool the host cannot
//! provide is reported, and the nodes start without it.

pub(crate) mod python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::{NodePlan, Plan};
use crate::spec::{TOOLS_ROOT, Tool};

/// Where a tool's directory appears in a node.
pub(crate) fn mount_point(tool: Tool) -> String {
    format!("{TOOLS_ROOT}/{}", tool.name())
}

/// The tools a plan's nodes ask for, each with its host directory or why it is unavailable.
#[derive(Debug, Default)]
pub(crate) struct Tools {
    dirs: BTreeMap<Tool, Result<PathBuf, String>>,
}

impl Tools {
    /// Finds or builds every tool the plan's nodes ask for (a cached tool costs a digest).
    pub(crate) fn prepare(plan: &Plan) -> Tools {
        let dirs = wanted(plan)
            .into_iter()
            .map(|tool| {
                let dir = match tool {
                    Tool::Python => python::bundle(),
                };
                (tool, dir.map_err(|e| format!("{e:#}")))
            })
            .collect();
        Tools { dirs }
    }

    /// The host directory of `tool`, when it is available.
    pub(crate) fn dir(&self, tool: Tool) -> Option<&Path> {
        self.dirs.get(&tool)?.as_ref().ok().map(PathBuf::as_path)
    }

    /// The tools of `node` that are available, with their host directories.
    pub(crate) fn of<'a>(&'a self, node: &NodePlan) -> Vec<(Tool, &'a Path)> {
        node.tools
            .iter()
            .filter_map(|t| Some((*t, self.dir(*t)?)))
            .collect()
    }

    /// What `lab up` says about the tools: ready ones, and why the others are missing.
    pub(crate) fn summary(&self) -> Option<String> {
        let parts: Vec<String> = self
            .dirs
            .iter()
            .map(|(tool, dir)| match dir {
                Ok(_) => format!("tool {} ready", tool.name()),
                Err(why) => format!(
                    "tool {} UNAVAILABLE, nodes start without it: {why}",
                    tool.name()
                ),
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The tools any node of `plan` asks for.
fn wanted(plan: &Plan) -> Vec<Tool> {
    let mut tools: Vec<Tool> = plan
        .nodes
        .iter()
        .flat_map(|n| n.tools.iter().copied())
        .collect();
    tools.sort();
    tools.dedup();
    tools
}

/// What the plan's tools are made of, as a short digest ("" without tools): part of the nodes'
/// revision, so that a node is recreated when a tool it mounts changes or becomes available.
pub(crate) fn revision(plan: &Plan) -> String {
    wanted(plan)
        .into_iter()
        .map(|tool| match tool {
            Tool::Python => python::key().unwrap_or_else(|_| "none".to_owned()),
        })
        .map(|key| key.chars().take(8).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The host directory tools are cached in: `LAB_CACHE_DIR`, else `$XDG_CACHE_HOME/lab`, else
/// `~/.cache/lab`.
pub(crate) fn cache_dir() -> anyhow::Result<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("LAB_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("lab"));
    }
    let home = var("HOME")
        .ok_or_else(|| anyhow::anyhow!("neither LAB_CACHE_DIR nor HOME is set: no cache"))?;
    Ok(PathBuf::from(home).join(".cache/lab"))
}
