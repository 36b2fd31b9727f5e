//! The architecture test: it reads `src/` and fails when an import runs
//! against the layers, or when two files import each other.
//!
//! The layers, top down (a layer may use those below it, never above):
//!
//! ```text
//!   cli ─────────────┬──────────────┬─────────────┐
//!     │              │              │             │
//!   testkit ──► runtime ──► control ──► replication
//!     │              │              │
//!     └──────────────┴──────► node ◄┘
//! ```
//!
//! `node` imports nothing outside itself, `replication` nothing outside
//! itself; `control` uses `replication` and `node`'s pure pieces, never a
//! runtime, the test kit or the CLI; `runtime` implements `control`'s
//! `NodeRuntime` with `node`s and knows nothing of the CLI or the test kit;
//! `testkit` starts `node`s through the Docker runtime's image helpers.
//!
//! An import is any path that names a module of the crate: `crate::a::b`,
//! `super::b`, `self::b`, a child module's name, with `use` groups
//! expanded; comments and string literals are skipped. Each path is
//! resolved to the file of the longest module prefix it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers each layer may import from (itself included).
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "node" => &["node"],
        "replication" => &["replication"],
        "control" => &["control", "replication", "node"],
        "runtime" => &["runtime", "control", "replication", "node"],
        "testkit" => &["testkit", "runtime", "replication", "node"],
        // The CLI and the crate root use everything.
        _ => &[
            "cli",
            "testkit",
            "runtime",
            "control",
            "replication",
            "node",
        ],
    }
}

/// A source file: its module path (`["node", "cql", "exec"]`) and text.
struct File {
    module: Vec<String>,
    text: String,
}

/// The module path of a file under `src/`, from its relative path.
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<File>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("a source file");
            out.push(File {
                module: module_of(&rel),
                text,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path, // `::`
    Punct(char),
}

/// Tokens of Rust source with comments, strings and char literals removed.
fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(b.get(i + 1), Some('#') | Some('"')) && {
            let mut j = i + 1;
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            b.get(j) == Some(&'"')
        } {
            // A raw string: r"..." or r#"..."#.
            let mut hashes = 0;
            i += 1;
            while b[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            loop {
                if i >= b.len() {
                    break;
                }
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if b.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::Path);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// Parses a path (and any `{...}` groups) starting at `toks[i]`, an
/// identifier; pushes every full path to `out`; returns the index after it.
fn parse_path(
    toks: &[Tok],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        // `x as y`: the alias is no path.
                        Some(Tok::Ident(s)) if s == "as" => i += 2,
                        Some(Tok::Ident(_)) => i = parse_path(toks, i, path.clone(), out),
                        Some(_) => i += 1,
                        None => return i,
                    }
                }
            }
            _ => {
                out.push(path);
                return i;
            }
        }
        if toks.get(i) == Some(&Tok::Path) {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// The crate's modules each file imports, as absolute module paths.
fn imports(file: &File, modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let toks = tokens(&file.text);
    // Child modules declared with `mod x;`, usable by their bare name.
    let mut children = BTreeSet::new();
    for w in toks.windows(3) {
        if let [Tok::Ident(m), Tok::Ident(name), Tok::Punct(';')] = w
            && m == "mod"
        {
            children.insert(name.clone());
        }
    }
    let mut found = Vec::new();
    // Inline modules (`mod tests { ... }`) shift what `super` and `self` mean.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(m)
                if m == "mod"
                    && matches!(toks.get(i + 1), Some(Tok::Ident(_)))
                    && toks.get(i + 2) == Some(&Tok::Punct('{')) =>
            {
                if let Some(Tok::Ident(name)) = toks.get(i + 1) {
                    inline.push((name.clone(), depth));
                }
            }
            Tok::Ident(head)
                if toks.get(i + 1) == Some(&Tok::Path)
                    && toks.get(i.wrapping_sub(1)) != Some(&Tok::Path) =>
            {
                let mut here: Vec<String> = file.module.clone();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut paths = Vec::new();
                let next = match head.as_str() {
                    "crate" => parse_path(&toks, i + 2, Vec::new(), &mut paths),
                    "self" => parse_path(&toks, i + 2, here.clone(), &mut paths),
                    "super" => {
                        let mut j = i;
                        let mut base = here.clone();
                        while toks.get(j) == Some(&Tok::Ident("super".into()))
                            && toks.get(j + 1) == Some(&Tok::Path)
                        {
                            base.pop();
                            j += 2;
                        }
                        parse_path(&toks, j, base, &mut paths)
                    }
                    name if inline.is_empty() && children.contains(name) => {
                        parse_path(&toks, i, file.module.clone(), &mut paths)
                    }
                    _ => i + 1,
                };
                found.extend(paths);
                i = next.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = BTreeSet::new();
    for p in found {
        // The longest prefix that is a module of the crate (a file).
        let mut m = p.clone();
        while !m.is_empty() && !modules.contains(&m) {
            m.pop();
        }
        if !m.is_empty() && m != file.module {
            out.insert(m);
        }
    }
    out
}

/// What is wrong with a tree of files: back-arrows and mutual imports.
fn violations(files: &[File]) -> Vec<String> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut out = Vec::new();
    for f in files {
        let imps = imports(f, &modules);
        let layer = f.module.first().map(String::as_str).unwrap_or("");
        for m in &imps {
            let target = m[0].as_str();
            if !f.module.is_empty() && !allowed(layer).contains(&target) {
                out.push(format!(
                    "{} imports {}: {layer} may use only {:?}",
                    f.module.join("::"),
                    m.join("::"),
                    allowed(layer)
                ));
            }
        }
        edges.insert(f.module.clone(), imps);
    }
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                out.push(format!(
                    "{} and {} import each other",
                    a.join("::"),
                    b.join("::")
                ));
            }
        }
    }
    out
}

#[test]
fn layers_point_one_way_and_no_two_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    assert!(
        files.len() > 50,
        "read {} files from {}",
        files.len(),
        root.display()
    );
    let v = violations(&files);
    assert!(v.is_empty(), "{} violations:\n{}", v.len(), v.join("\n"));
}

fn file(path: &str, text: &str) -> File {
    File {
        module: module_of(path),
        text: text.to_string(),
    }
}

#[test]
fn a_planted_back_arrow_is_caught() {
    let tree = vec![
        file("lib.rs", "pub mod cli; pub mod control; pub mod node;"),
        file("node/mod.rs", "pub mod db;"),
        // The node reaching up into the control plane.
        file(
            "node/db.rs",
            "use crate::control::model::Service; fn f() {}",
        ),
        file("control/mod.rs", "pub mod model;"),
        file("control/model.rs", "pub struct Service;"),
        file("cli/mod.rs", "use crate::control::model::Service;"),
    ];
    let v = violations(&tree);
    assert_eq!(
        v,
        vec!["node::db imports control::model: node may use only [\"node\"]".to_string()]
    );
}

#[test]
fn a_planted_mutual_import_is_caught_in_every_spelling() {
    let tree = vec![
        file("node/mod.rs", "pub mod cql;"),
        file("node/cql/mod.rs", "pub mod exec; pub mod tables;"),
        // A group, `self` and an alias...
        file(
            "node/cql/exec.rs",
            "use crate::node::{cql::{self as c, tables::{self, Row}}};",
        ),
        // ...and `super`, from inside an inline module.
        file(
            "node/cql/tables.rs",
            "// crate::node::cql::exec in a comment is no import\nfn f() { let s = \"super::exec\"; }\nmod inner { fn g() { super::super::exec::run(); } }",
        ),
    ];
    let v = violations(&tree);
    assert_eq!(
        v,
        vec!["node::cql::exec and node::cql::tables import each other".to_string()]
    );
}

#[test]
fn layers_may_use_those_below() {
    let tree = vec![
        file("node/mod.rs", "pub mod db;"),
        file("node/db.rs", ""),
        file("replication/mod.rs", ""),
        file(
            "control/mod.rs",
            "use crate::replication; use crate::node::db;",
        ),
        file("runtime/mod.rs", "use crate::control; use crate::node::db;"),
        file("testkit/mod.rs", "use crate::runtime;"),
        file("cli/mod.rs", "use crate::testkit; use crate::runtime;"),
    ];
    assert_eq!(violations(&tree), Vec::<String>::new());
}
