//! The `python` tool: the host's own Python 3 (Debian's `/usr/bin/python3`, `LAB_TOOL_PYTHON`
//! overrides it) made relocatable, with kafka-python, so that a `FROM scratch` node runs the
//! TP's Python examples. Built offline from what is on the machine:
//!
//! ```text
//! bin/python3                     a shell wrapper: runs the interpreter with the bundle's loader
//! libexec/python3.X               the interpreter, unchanged
//! lib/ld-linux-x86-64.so.2, lib/libc.so.6, …   the loader and every library `ldd` names
//! lib/python3.X/                  the standard library (no tests, IDLE, Tk, 2to3, …) and lib-dynload
//! lib/python3/dist-packages/kafka kafka-python (Debian's site.py looks there)
//! ```
//!
//! The node has no `/lib64` loader, so the wrapper starts the interpreter through the
//! bundle's own (`ld-linux --library-path`); the interpreter finds its standard library by
//! walking up from `libexec/`. The directory is named after a digest of its inputs and built
//! once, in a temporary directory renamed into place.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// Changes whenever the bundle's layout or content rules change, so old bundles are not reused.
const FORMAT: &str = "lab python bundle 1";

/// Top-level standard library entries left out: tests, GUIs, build configuration, packaging.
const LEFT_OUT: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "distutils",
    "pydoc_data",
    "lib-dynload",
    "site-packages",
    "dist-packages",
];

/// Extension modules left out: test modules, and those pulling in large unrelated libraries
/// (Kerberos for `nis`, Berkeley DB, ncurses, OSS audio).
fn module_left_out(module: &str) -> bool {
    module.starts_with("_test")
        || module.starts_with("xx")
        || module.starts_with("_xx")
        || matches!(
            module,
            "nis" | "_dbm" | "_curses" | "_curses_panel" | "ossaudiodev" | "_ctypes_test"
        )
}

/// What the bundle is made of.
#[derive(Debug)]
struct Inputs {
    /// The interpreter (symlinks resolved).
    python: PathBuf,
    /// The directory holding the `kafka` package (a site-packages).
    packages: PathBuf,
}

impl Inputs {
    fn locate() -> anyhow::Result<Inputs> {
        let python = match std::env::var_os("LAB_TOOL_PYTHON") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from("/usr/bin/python3"),
        };
        let python = fs::canonicalize(&python).with_context(|| {
            format!(
                "no Python interpreter at {} (install Debian's python3, or set LAB_TOOL_PYTHON)",
                python.display()
            )
        })?;
        Ok(Inputs {
            python,
            packages: kafka_python()?,
        })
    }
}

/// The site-packages holding kafka-python: `LAB_KAFKA_PYTHON`, else that of a virtualenv:
/// `$VIRTUAL_ENV`, `./.venv`, or the `.venv` of the repository `lab` was built in (`make
/// setup` installs kafka-python there).
fn kafka_python() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LAB_KAFKA_PYTHON") {
        let dir = PathBuf::from(dir);
        if !dir.join("kafka/__init__.py").is_file() {
            bail!(
                "LAB_KAFKA_PYTHON={} holds no `kafka` package",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let mut venvs: Vec<PathBuf> = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    venvs.push(PathBuf::from(".venv"));
    // <repo>/target/<triple>/release/lab → <repo>/.venv
    if let Ok(exe) = std::env::current_exe()
        && let Some(repo) = exe.ancestors().nth(4)
    {
        venvs.push(repo.join(".venv"));
    }
    for venv in &venvs {
        let Ok(entries) = fs::read_dir(venv.join("lib")) else {
            continue;
        };
        let mut libs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.join("kafka/__init__.py").is_file())
            .collect();
        libs.sort();
        if let Some(dir) = libs.pop() {
            return fs::canonicalize(&dir)
                .with_context(|| format!("cannot read {}", dir.display()));
        }
    }
    bail!(
        "kafka-python is not installed in any of {} (`make setup` installs it into .venv; \
         LAB_KAFKA_PYTHON may name a directory holding the `kafka` package)",
        venvs
            .iter()
            .map(|v| v.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The bundle's digest: the format, the interpreter's bytes and kafka-python's files.
pub(crate) fn key() -> anyhow::Result<String> {
    key_of(&Inputs::locate()?)
}

fn key_of(inputs: &Inputs) -> anyhow::Result<String> {
    let mut hash = Sha256::new();
    hash.update(FORMAT.as_bytes());
    hash.update(read(&inputs.python)?);
    for file in files(&inputs.packages.join("kafka"))? {
        hash.update(
            file.strip_prefix(&inputs.packages)?
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(read(&file)?);
    }
    Ok(hash
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The bundle's directory, built first if the cache does not hold it yet.
pub(crate) fn bundle() -> anyhow::Result<PathBuf> {
    let inputs = Inputs::locate()?;
    let cache = super::cache_dir()?;
    let dir = cache.join(format!("python-{}", key_of(&inputs)?));
    if dir.join("bin/python3").is_file() {
        return Ok(dir);
    }
    fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
    let tmp = cache.join(format!(
        "python-build-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let built = build(&inputs, &tmp);
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // Another `lab up` may have finished the same bundle meanwhile: either copy serves.
    if fs::rename(&tmp, &dir).is_err() {
        let _ = fs::remove_dir_all(&tmp);
        if !dir.join("bin/python3").is_file() {
            bail!("cannot move the Python bundle into {}", dir.display());
        }
    }
    Ok(dir)
}

/// What the interpreter says about itself: `python3.X`, its standard library, its extension
/// modules' directory.
struct Layout {
    version: String,
    stdlib: PathBuf,
    dynload: PathBuf,
}

fn layout(python: &Path) -> anyhow::Result<Layout> {
    let out = Command::new(python)
        .args([
            "-I",
            "-c",
            "import sys, sysconfig\n\
             print('python%d.%d' % sys.version_info[:2])\n\
             print(sysconfig.get_path('stdlib'))\n\
             print(sysconfig.get_config_var('DESTSHARED'))",
        ])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (
        out.status.success(),
        lines.next(),
        lines.next(),
        lines.next(),
    ) {
        (true, Some(version), Some(stdlib), Some(dynload)) => Ok(Layout {
            version: version.to_owned(),
            stdlib: PathBuf::from(stdlib),
            dynload: PathBuf::from(dynload),
        }),
        _ => bail!(
            "{} does not describe itself: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

fn build(inputs: &Inputs, dest: &Path) -> anyhow::Result<()> {
    let layout = layout(&inputs.python)?;
    let lib = dest.join("lib");
    let stdlib = lib.join(&layout.version);
    copy_tree(&layout.stdlib, &stdlib, &|rel: &Path| {
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy());
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        top.is_some_and(|t| LEFT_OUT.contains(&t.as_ref()) || t.starts_with("config-"))
            || name.contains(".opt-")
    })?;
    let dynload = stdlib.join("lib-dynload");
    fs::create_dir_all(&dynload)?;
    let mut binaries = vec![inputs.python.clone()];
    for entry in fs::read_dir(&layout.dynload)
        .with_context(|| format!("cannot read {}", layout.dynload.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let module = name.split('.').next().unwrap_or_default();
        if !name.ends_with(".so") || module_left_out(module) {
            continue;
        }
        copy_file(&path, &dynload.join(&name))?;
        binaries.push(path);
    }
    let libexec = dest.join("libexec");
    fs::create_dir_all(&libexec)?;
    copy_file(&inputs.python, &libexec.join(&layout.version))?;
    let loader = copy_libraries(&binaries, &lib)?;
    let site = lib.join("python3/dist-packages");
    copy_tree(&inputs.packages.join("kafka"), &site.join("kafka"), &|_| {
        false
    })?;
    let bin = dest.join("bin");
    fs::create_dir_all(&bin)?;
    let wrapper = format!(
        "#!/bin/sh\n\
         # python3 of a lab node: the host's Python, run by this bundle's own loader and libraries.\n\
         here=$(cd \"$(dirname \"$(readlink -f \"$0\")\")/..\" && pwd)\n\
         exec \"$here/lib/{loader}\" --library-path \"$here/lib\" \"$here/libexec/{}\" \"$@\"\n",
        layout.version
    );
    write_executable(&bin.join("python3"), &wrapper)?;
    // Byte-code for what has none yet (kafka-python): the bundle is mounted read-only.
    let python3 = bin.join("python3");
    run(Command::new(&python3)
        .args(["-I", "-m", "compileall", "-q"])
        .args([&stdlib, &site]))?;
    let version = run(Command::new(&python3).args([
        "-I",
        "-c",
        "import kafka, json, socket, ssl; print(kafka.__version__)",
    ]))?;
    if version.trim().is_empty() {
        bail!(
            "the Python bundle in {} cannot import kafka",
            dest.display()
        );
    }
    Ok(())
}

/// Copies the loader and every shared library `ldd` lists for `binaries` into `lib`, each
/// under the name it is linked by; returns the loader's file name.
fn copy_libraries(binaries: &[PathBuf], lib: &Path) -> anyhow::Result<String> {
    let mut loader = None;
    for binary in binaries {
        let out = run(Command::new("ldd").arg(binary))?;
        for line in out.lines().map(str::trim) {
            let (name, path) = match line.split_once(" => ") {
                Some((name, rest)) => (name, rest.split(" (").next().unwrap_or_default()),
                None if line.starts_with('/') => {
                    let path = line.split(" (").next().unwrap_or_default();
                    let name = Path::new(path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    loader = Some(name.clone());
                    let target = lib.join(&name);
                    if !target.exists() {
                        copy_file(Path::new(path), &target)?;
                    }
                    continue;
                }
                None => continue, // linux-vdso.so.1
            };
            if !path.starts_with('/') {
                bail!("{}: library {name} not found ({line})", binary.display());
            }
            let target = lib.join(name);
            if !target.exists() {
                copy_file(Path::new(path), &target)?;
            }
        }
    }
    loader.context("ldd names no program loader: is this Python dynamically linked on glibc?")
}

/// Every regular file under `dir`, sorted, `__pycache__` left out.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() && entry.file_name() != "__pycache__" {
                stack.push(path);
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the tree `from` into `to` (symlinks followed), except the paths `skip` names
/// (relative to `from`); modification times are kept, so the byte-code beside stays valid.
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    let mut stack = vec![from.to_path_buf()];
    // Symlinks are followed: a directory reached twice (a link loop) would never end.
    let mut visited = std::collections::HashSet::new();
    while let Some(dir) = stack.pop() {
        let real =
            fs::canonicalize(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if !visited.insert(real) {
            bail!(
                "{} is reached twice through symbolic links: cannot copy it",
                dir.display()
            );
        }
        let rel = dir.strip_prefix(from)?;
        fs::create_dir_all(to.join(rel))?;
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let rel = path.strip_prefix(from)?;
            if skip(rel) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                copy_file(&path, &to.join(rel))?;
            }
        }
    }
    Ok(())
}

/// Copies one file, its mode and modification time.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    let modified = fs::metadata(from)?.modified()?;
    fs::File::options()
        .write(true)
        .open(to)?
        .set_modified(modified)?;
    Ok(())
}

fn write_executable(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Runs a command; its standard output, or an error with its standard error.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        fs::create_dir_all(from.join("a")).unwrap();
        fs::write(from.join("a/file.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink(&from, from.join("a/back")).unwrap();
        let err = copy_tree(&from, &dir.path().join("to"), &|_| false).unwrap_err();
        assert!(format!("{err:#}").contains("reached twice"), "{err:#}");
    }

    /// A real bundle from this host's Python, run from a copy somewhere else: it is relocatable
    /// and imports kafka-python with the host's own search paths out of the way.
    #[test]
    fn the_bundle_runs_from_anywhere_and_imports_kafka() {
        let inputs = match Inputs::locate() {
            Ok(i) => i,
            Err(e) => {
                assert!(std::env::var("CI").is_err(), "CI=true but {e:#}");
                eprintln!("SKIP: {e:#}");
                return;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        build(&inputs, &first).unwrap();
        let moved = dir.path().join("moved");
        fs::rename(&first, &moved).unwrap();
        let out = run(Command::new(moved.join("bin/python3")).args([
            "-I",
            "-c",
            "import sys, kafka; print(sys.prefix); print(kafka.__file__)",
        ]))
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(moved.to_str().unwrap()),
            "{out}"
        );
        assert!(
            lines
                .get(1)
                .is_some_and(|f| f.starts_with(moved.to_str().unwrap())),
            "{out}"
        );
        assert!(
            !moved
                .join("lib")
                .join(layout(&inputs.python).unwrap().version)
                .join("test")
                .exists()
        );
        assert_eq!(key_of(&inputs).unwrap(), key_of(&inputs).unwrap());
    }
}
