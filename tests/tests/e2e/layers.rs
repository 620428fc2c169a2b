//! House rule: no module cycles in the workspace, and the server's top-level modules in layers.
//!
//! Every `crate::…`, `super::…` and `self::…` path in a crate's sources (test modules, `tests.rs`
//! files and comments left out) is an edge from the module that writes it to the module it names. An edge between a
//! module and one of its ancestors or descendants is a parent using its children or a child using
//! its parent's shared items; every other edge is lifted to the two siblings below the deepest
//! common ancestor, and the siblings of each parent must form no cycle. The server's top-level
//! modules must moreover only use modules of their own layer or below ([`SERVER_LAYERS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The server's layers, top first (docs/ARCHITECTURE.md). A module may use modules of its own
/// layer (without a cycle) and of the layers below.
const SERVER_LAYERS: &[(&str, &[&str])] = &[
    ("entry", &["app", "demo"]),
    ("http", &["http", "console"]),
    (
        "services",
        &[
            "sync",
            "review",
            "blobs",
            "search",
            "exports",
            "identity",
            "admin",
            "accounts",
            "regions",
            "policies",
            "backup",
            "monitoring",
            "temporary_aid",
            "quarterly",
        ],
    ),
    ("documents", &["documents"]),
    ("access", &["access", "audit"]),
    (
        "storage",
        &["db", "entity", "error", "config", "auth", "metrics", "jobs"],
    ),
];

/// One use of a module by another, where it was written.
#[derive(Debug, Clone)]
struct Edge {
    from: Vec<String>,
    to: Vec<String>,
    at: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The module path of a source file below `src` (`a/b.rs` and `a/b/mod.rs` are `a::b`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // Binaries are crates of their own.
            if path.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            // `tests.rs`: a `#[cfg(test)] mod tests;` kept in a file of its own.
            && path.file_stem().is_some_and(|s| s != "tests")
        {
            out.push(path);
        }
    }
}

/// The source without comments, string literals and `#[cfg(test)]` items (a test module may use
/// whatever it checks). Line numbers are kept: removed text becomes spaces.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |s: &[u8], out: &mut String| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
            blank(&b[i..end], &mut out);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            blank(&b[i..end], &mut out);
            i = end;
        } else if let Some(hashes) =
            raw_string_start(&b[i..], i == 0 || !is_ident(b[i - 1] as char))
        {
            // r"…", r#"…"#: up to the quote followed by as many hashes.
            let close = format!("\"{}", "#".repeat(hashes));
            let open = 2 + hashes;
            let end = text[i + open..]
                .find(&close)
                .map_or(b.len(), |n| i + open + n + close.len());
            blank(&b[i..end], &mut out);
            i = end;
        } else if b[i] == b'"' && !(i > 0 && (b[i - 1] == b'\'' || b[i - 1] == b'#')) {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = (j + 1).min(b.len());
            blank(&b[i..end], &mut out);
            i = end;
        } else if b[i..].starts_with(b"#[cfg(test)]") {
            // The attributed item: up to its `;` or its matching closing brace.
            let mut j = i;
            let mut depth = 0usize;
            while j < b.len() {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        j += 1;
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
            blank(&b[i..j], &mut out);
            i = j;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The number of `#` of a raw string literal starting at `s` (`r"`, `r#"`, …), if one starts there
/// (`free`: no identifier character right before it).
fn raw_string_start(s: &[u8], free: bool) -> Option<usize> {
    if !free || s.first() != Some(&b'r') {
        return None;
    }
    let hashes = s[1..].iter().take_while(|&&c| c == b'#').count();
    (s.get(1 + hashes) == Some(&b'"')).then_some(hashes)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths of a use tree starting at `s` (`a::b`, `a::{b, c::{d, e}}`), each as segments.
fn use_tree(s: &str) -> Vec<Vec<String>> {
    fn tree(s: &[char], i: &mut usize) -> Vec<Vec<String>> {
        let mut prefix = Vec::new();
        loop {
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
            if *i < s.len() && s[*i] == '{' {
                *i += 1;
                let mut all = Vec::new();
                loop {
                    while *i < s.len() && (s[*i].is_whitespace() || s[*i] == ',') {
                        *i += 1;
                    }
                    if *i >= s.len() || s[*i] == '}' {
                        *i += 1;
                        break;
                    }
                    for sub in tree(s, i) {
                        let mut p = prefix.clone();
                        p.extend(sub);
                        all.push(p);
                    }
                }
                return all;
            }
            let start = *i;
            while *i < s.len() && is_ident(s[*i]) {
                *i += 1;
            }
            if start == *i {
                return vec![prefix];
            }
            prefix.push(s[start..*i].iter().collect());
            if *i + 1 < s.len() && s[*i] == ':' && s[*i + 1] == ':' {
                *i += 2;
            } else {
                return vec![prefix];
            }
        }
    }
    let chars: Vec<char> = s.chars().take(4000).collect();
    tree(&chars, &mut 0)
}

/// The edges of one crate.
fn crate_edges(src: &Path) -> (BTreeSet<Vec<String>>, Vec<Edge>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = Vec::new();
    for file in &files {
        let here = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = code_only(&text);
        for (at, _) in code.match_indices("::") {
            // The keyword before `::`, standing alone.
            let before = &code[..at];
            let kw = ["crate", "super", "self"]
                .into_iter()
                .find(|k| before.ends_with(k));
            let Some(kw) = kw else { continue };
            let kw_start = at - kw.len();
            if code[..kw_start]
                .chars()
                .next_back()
                .is_some_and(|c| is_ident(c) || c == ':')
            {
                continue;
            }
            let mut base: Vec<String> = match kw {
                "crate" => Vec::new(),
                "self" => here.clone(),
                _ => {
                    let mut b = here.clone();
                    b.pop();
                    b
                }
            };
            let mut rest = &code[at + 2..];
            // `super::super::…`
            while kw == "super" && rest.starts_with("super::") {
                base.pop();
                rest = &rest["super::".len()..];
            }
            let line = text[..at].matches('\n').count() + 1;
            for path in use_tree(rest) {
                let mut full = base.clone();
                full.extend(path);
                // The longest prefix that is a module.
                let target = (0..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|p| modules.contains(p));
                let Some(target) = target else { continue };
                edges.push(Edge {
                    from: here.clone(),
                    to: target,
                    at: format!(
                        "{}:{line}",
                        file.strip_prefix(workspace()).unwrap().display()
                    ),
                });
            }
        }
    }
    (modules, edges)
}

/// The sibling edge an edge lifts to: (parent, from child, to child), or `None` between a module
/// and its ancestor or descendant.
fn lift(edge: &Edge) -> Option<(Vec<String>, String, String)> {
    let common = edge
        .from
        .iter()
        .zip(&edge.to)
        .take_while(|(a, b)| a == b)
        .count();
    if common == edge.from.len() || common == edge.to.len() {
        return None;
    }
    Some((
        edge.from[..common].to_vec(),
        edge.from[common].clone(),
        edge.to[common].clone(),
    ))
}

/// A cycle in a graph, as its nodes in order, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(n.to_string(), Mark::Open);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match marks.get(m).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, graph, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in graph.keys() {
        if marks.get(n).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut marks, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// Every cycle among siblings of a crate, each with where its edges are written.
fn cycles(edges: &[Edge]) -> Vec<String> {
    let mut by_parent: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut seen_at: BTreeMap<(Vec<String>, String, String), String> = BTreeMap::new();
    for e in edges {
        if let Some((parent, a, b)) = lift(e) {
            by_parent
                .entry(parent.clone())
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
            seen_at.entry((parent, a, b)).or_insert(e.at.clone());
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &by_parent {
        if let Some(cycle) = find_cycle(graph) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let at = &seen_at[&(parent.clone(), w[0].clone(), w[1].clone())];
                    format!("{} -> {} ({at})", w[0], w[1])
                })
                .collect();
            found.push(format!(
                "in crate::{}: {}",
                parent.join("::"),
                steps.join(", ")
            ));
        }
    }
    found
}

const CRATES: &[&str] = &["server/src", "protocol/src", "mobile-sdk/src", "tests/src"];

#[test]
fn no_module_cycles_in_the_workspace() {
    let mut found = Vec::new();
    for dir in CRATES {
        let (_, edges) = crate_edges(&workspace().join(dir));
        for c in cycles(&edges) {
            found.push(format!("{dir}: {c}"));
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_server_uses_its_layers_downwards() {
    let layer_of = |m: &str| SERVER_LAYERS.iter().position(|(_, ms)| ms.contains(&m));
    let (modules, edges) = crate_edges(&workspace().join("server/src"));
    let mut wrong = Vec::new();
    for top in modules.iter().filter(|m| m.len() == 1) {
        if layer_of(&top[0]).is_none() {
            wrong.push(format!("crate::{} has no layer in SERVER_LAYERS", top[0]));
        }
    }
    for e in &edges {
        let (Some(a), Some(b)) = (e.from.first(), e.to.first()) else {
            continue;
        };
        if let (Some(la), Some(lb)) = (layer_of(a), layer_of(b))
            && lb < la
        {
            wrong.push(format!(
                "crate::{a} ({}) uses crate::{b} ({}) above it at {}",
                SERVER_LAYERS[la].0, SERVER_LAYERS[lb].0, e.at
            ));
        }
    }
    assert!(wrong.is_empty(), "layering:\n{}", wrong.join("\n"));
}

/// The check itself finds a cycle and a back edge: a deliberately added back edge fails it.
#[test]
fn the_check_finds_a_back_edge() {
    let edge = |from: &str, to: &str| Edge {
        from: from.split("::").map(String::from).collect(),
        to: to.split("::").map(String::from).collect(),
        at: format!("{from}.rs:1"),
    };
    let ok = [
        edge("http::sync", "sync"),
        edge("sync::pull", "db"),
        edge("sync", "sync::pull"),
    ];
    assert!(cycles(&ok).is_empty());
    let mut bad = ok.to_vec();
    bad.push(edge("db::reads", "http"));
    let found = cycles(&bad);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("db -> http (db::reads.rs:1)"),
        "{found:?}"
    );

    let code = code_only(
        "use crate::{a::B, c::{d, e::F}};\n// crate::x::Y\nlet s = \"crate::z\";\n\
         #[cfg(test)]\nmod tests { use crate::w; }\nfn f() { super::g::h(); }\n",
    );
    assert!(!code.contains("crate::x") && !code.contains("crate::z") && !code.contains("crate::w"));
    assert_eq!(code.lines().count(), 6);
    let raw = code_only("let p = r#\"<a href=\"x\">crate::q</a>\"#;\nuse crate::after;\n");
    assert!(
        !raw.contains("crate::q") && raw.contains("crate::after"),
        "{raw}"
    );
    let at = code.find("crate::").unwrap() + "crate::".len();
    assert_eq!(
        use_tree(&code[at..]),
        vec![
            vec!["a".to_string(), "B".into()],
            vec!["c".into(), "d".into()],
            vec!["c".into(), "e".into(), "F".into()],
        ]
    );
}
