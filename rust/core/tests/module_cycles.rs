//! The core crate's modules form no cycle, neither between top-level modules
//! nor between the files and subfolders of any one folder.
//!
//! Reads every file under `src/`, follows `use crate::…`, `use super::…`,
//! `use self::…` and child-module paths, and the same paths written inline
//! (`crate::device::describe(…)`), test modules included. A name re-exported
//! by a `mod.rs` counts as a use of the file that defines it. Within a folder
//! the nodes are its files and subfolders; `mod.rs` itself is the folder's
//! interface, so its own items and its re-exports make no edge.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A module path from the crate root, e.g. `["model_dir", "metadata"]`.
type ModPath = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Semi,
    Comma,
    Star,
    Other,
}

/// Rust tokens that matter for paths, with comments, strings and char literals skipped.
fn lex(text: &str) -> Vec<Token> {
    let c: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied().unwrap_or('\0');
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if ch == '\'' {
            if next == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                // A lifetime or label.
                i += 1;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw_string_prefix = matches!(word.as_str(), "r" | "br" | "b");
            if raw_string_prefix && c.get(i) == Some(&'"') {
                i = if word == "b" { skip_string(&c, i + 1) } else { skip_raw_string(&c, i, 0) };
            } else if raw_string_prefix && word != "b" && c.get(i) == Some(&'#') && matches!(c.get(i + 1), Some('#') | Some('"')) {
                let mut hashes = 0;
                while c.get(i) == Some(&'#') {
                    hashes += 1;
                    i += 1;
                }
                i = skip_raw_string(&c, i, hashes);
            } else if word == "b" && c.get(i) == Some(&'\'') {
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            } else if word == "r" && c.get(i) == Some(&'#') {
                // A raw identifier such as `r#type`.
                i += 1;
                let start = i;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
                tokens.push(Token::Ident(c[start..i].iter().collect()));
            } else {
                tokens.push(Token::Ident(word));
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            tokens.push(Token::Other);
        } else {
            i += 1;
            tokens.push(match ch {
                ':' if next == ':' => {
                    i += 1;
                    Token::PathSep
                }
                '{' => Token::Open,
                '}' => Token::Close,
                ';' => Token::Semi,
                ',' => Token::Comma,
                '*' => Token::Star,
                _ => Token::Other,
            });
        }
    }
    tokens
}

/// Index after the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() && c[i] != '"' {
        i += if c[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// Index after `"…"` followed by `hashes` `#`, for `c[i] == '"'`.
fn skip_raw_string(c: &[char], mut i: usize, hashes: usize) -> usize {
    i += 1;
    while i < c.len() {
        if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// One imported or referenced path: its segments as written, where it was
/// written (the file module plus any inline modules) and the name it binds.
#[derive(Debug, Clone)]
struct Reference {
    scope: ModPath,
    segments: Vec<String>,
    name: Option<String>,
    public_use: bool,
}

/// The references of one file whose module is `module`.
fn references(tokens: &[Token], module: &ModPath) -> Vec<Reference> {
    let mut refs = Vec::new();
    // Inline modules (`mod tests { … }`) and the brace depth each opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let scope = |inline: &[(String, usize)]| module.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect::<ModPath>();
    while i < tokens.len() {
        match &tokens[i] {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Token::Ident(w) if w == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) = (tokens.get(i + 1), tokens.get(i + 2)) {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Token::Ident(w) if w == "use" => {
                let public_use = is_public(tokens, i);
                let mut leaves = Vec::new();
                i = use_tree(tokens, i + 1, &[], &mut leaves);
                let scope = scope(&inline);
                refs.extend(leaves.into_iter().map(|(segments, name)| Reference { scope: scope.clone(), segments, name, public_use }));
                continue;
            }
            Token::Ident(first) if tokens.get(i + 1) == Some(&Token::PathSep) && i.checked_sub(1).map(|p| &tokens[p]) != Some(&Token::PathSep) => {
                let mut segments = vec![first.clone()];
                let mut j = i + 1;
                while let (Some(Token::PathSep), Some(Token::Ident(s))) = (tokens.get(j), tokens.get(j + 1)) {
                    segments.push(s.clone());
                    j += 2;
                }
                refs.push(Reference { scope: scope(&inline), segments, name: None, public_use: false });
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

/// Whether the `use` at `at` is preceded by `pub`, `pub(crate)` or the like.
fn is_public(tokens: &[Token], at: usize) -> bool {
    for t in tokens[..at].iter().rev() {
        match t {
            Token::Ident(w) if w == "pub" => return true,
            Token::Ident(w) if matches!(w.as_str(), "crate" | "super" | "self" | "in") => {}
            Token::Other | Token::PathSep => {}
            _ => return false,
        }
    }
    false
}

/// Parses a use tree from `i`, pushing each leaf's path and bound name
/// (`None` for globs); returns the index after it.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &[String], leaves: &mut Vec<(Vec<String>, Option<String>)>) -> usize {
    let mut path = prefix.to_vec();
    if tokens.get(i) == Some(&Token::PathSep) {
        // `::std::…`: an external crate.
        path.push("::".into());
        i += 1;
    }
    loop {
        match tokens.get(i) {
            Some(Token::Open) => {
                i += 1;
                while !matches!(tokens.get(i), Some(Token::Close) | None) {
                    i = use_tree(tokens, i, &path, leaves);
                    if tokens.get(i) == Some(&Token::Comma) {
                        i += 1;
                    }
                }
                return skip_to_end(tokens, i + 1);
            }
            Some(Token::Star) => {
                leaves.push((path, None));
                return skip_to_end(tokens, i + 1);
            }
            Some(Token::Ident(s)) if s == "self" && !path.is_empty() => {
                let name = path.last().cloned();
                i += 1;
                let name = alias(tokens, &mut i).or(name);
                leaves.push((path, name));
                return skip_to_end(tokens, i);
            }
            Some(Token::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if tokens.get(i) == Some(&Token::PathSep) {
                    i += 1;
                    continue;
                }
                let name = alias(tokens, &mut i).or(Some(s.clone()));
                leaves.push((path, name));
                return skip_to_end(tokens, i);
            }
            _ => return skip_to_end(tokens, i),
        }
    }
}

/// The alias of `… as name`, advancing past it.
fn alias(tokens: &[Token], i: &mut usize) -> Option<String> {
    if tokens.get(*i) == Some(&Token::Ident("as".into())) {
        if let Some(Token::Ident(n)) = tokens.get(*i + 1) {
            *i += 2;
            return Some(n.clone());
        }
    }
    None
}

/// Consumes the `;` ending a top-level use tree; leaves `,` and `}` to the caller.
fn skip_to_end(tokens: &[Token], i: usize) -> usize {
    if tokens.get(i) == Some(&Token::Semi) {
        i + 1
    } else {
        i
    }
}

/// The module path of a source file, e.g. `model_dir/mod.rs` → `["model_dir"]`.
fn module_of(relative: &Path) -> ModPath {
    let mut parts: ModPath = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && stem == "lib")) {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

struct Crate {
    modules: BTreeSet<ModPath>,
    /// `(module, name)` → the absolute path that a `pub use` there names.
    reexports: HashMap<(ModPath, String), Vec<String>>,
}

impl Crate {
    /// The absolute segments of `reference`, or `None` for an external path.
    fn absolute(&self, r: &Reference) -> Option<Vec<String>> {
        let (first, rest) = r.segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => r.scope.clone(),
            "super" => r.scope[..r.scope.len().checked_sub(1)?].to_vec(),
            child => {
                let mut path = r.scope.clone();
                path.push(child.to_string());
                if !self.modules.contains(&path) {
                    return None;
                }
                path
            }
        };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            base.pop()?;
            rest.next();
        }
        base.extend(rest.cloned());
        Some(base)
    }

    /// The file module that defines what `path` names, following re-exports.
    fn defining_module(&self, path: &[String], hops: usize) -> ModPath {
        let mut module = Vec::new();
        let mut k = 0;
        while k < path.len() {
            let mut next = module.clone();
            next.push(path[k].clone());
            if !self.modules.contains(&next) {
                break;
            }
            module = next;
            k += 1;
        }
        if k < path.len() && hops < 8 {
            if let Some(target) = self.reexports.get(&(module.clone(), path[k].clone())) {
                let mut full = target.clone();
                full.extend(path[k + 1..].iter().cloned());
                return self.defining_module(&full, hops + 1);
            }
        }
        module
    }
}

/// Edges by folder: `folder → (from child, to child) → files that make the edge`.
type Graph = BTreeMap<ModPath, BTreeMap<(String, String), BTreeSet<String>>>;

fn dependency_graph() -> (Crate, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let parsed: Vec<(String, ModPath, Vec<Reference>)> = files
        .iter()
        .map(|f| {
            let relative = f.strip_prefix(&src).unwrap();
            let module = module_of(relative);
            let text = std::fs::read_to_string(f).unwrap();
            let refs = references(&lex(&text), &module);
            (relative.display().to_string(), module, refs)
        })
        .collect();
    let mut krate = Crate { modules: parsed.iter().map(|(_, m, _)| m.clone()).collect(), reexports: HashMap::new() };
    let mut reexports = HashMap::new();
    for (_, module, refs) in &parsed {
        for r in refs.iter().filter(|r| r.public_use && &r.scope == module) {
            if let (Some(name), Some(target)) = (&r.name, krate.absolute(r)) {
                reexports.insert((module.clone(), name.clone()), target);
            }
        }
    }
    krate.reexports = reexports;

    let mut graph = Graph::new();
    for (file, module, refs) in &parsed {
        for r in refs {
            let Some(path) = krate.absolute(r) else { continue };
            let target = krate.defining_module(&path, 0);
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < module.len() && common < target.len() {
                let edge = (module[common].clone(), target[common].clone());
                graph.entry(module[..common].to_vec()).or_default().entry(edge).or_default().insert(file.clone());
            }
        }
    }
    (krate, graph)
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut adjacency: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        adjacency.entry(from).or_default().push(to);
        adjacency.entry(to).or_default();
    }
    struct State<'a> {
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, adjacency: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &adjacency[v] {
            if !s.index.contains_key(w) {
                visit(w, adjacency, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State { index: HashMap::new(), low: HashMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for &v in adjacency.keys() {
        if !state.index.contains_key(v) {
            visit(v, &adjacency, &mut state);
        }
    }
    state.found
}

fn has_edge(graph: &Graph, folder: &[&str], from: &str, to: &str) -> bool {
    let folder: ModPath = folder.iter().map(|s| s.to_string()).collect();
    graph.get(&folder).is_some_and(|edges| edges.contains_key(&(from.to_string(), to.to_string())))
}

#[test]
fn the_parser_sees_the_whole_crate() {
    let (krate, graph) = dependency_graph();
    let top_level = krate.modules.iter().filter(|m| m.len() == 1).count();
    let top_edges = graph.get(&Vec::new()).map_or(0, |e| e.len());
    let all_edges: usize = graph.values().map(|e| e.len()).sum();
    assert!(krate.modules.len() >= 60, "only {} modules found", krate.modules.len());
    assert!(top_level >= 15, "only {top_level} top-level modules found");
    assert!(top_edges >= 40 && all_edges >= 100, "only {top_edges} top-level and {all_edges} edges in all");
    // One edge of each kind the parser must see: a `use crate::` line, a
    // re-export followed to its file through `use super::{…}`, a path written
    // inline, and a `super::super::` path out of a nested folder.
    assert!(has_edge(&graph, &[], "model_dir", "settings"), "use crate::settings in model_dir/metadata.rs");
    assert!(has_edge(&graph, &["model_dir"], "export", "atomic"), "super::staged_file in model_dir/export.rs");
    assert!(has_edge(&graph, &[], "tasks", "memory_estimate"), "crate::memory_estimate:: inline in the pixel predictor");
    assert!(has_edge(&graph, &["tasks", "pixel"], "outputs", "metrics"), "outputs/agreement.rs uses the pixel metrics");
}

#[test]
fn the_cycle_search_finds_a_planted_cycle() {
    let edge = |a: &str, b: &str| ((a.to_string(), b.to_string()), BTreeSet::new());
    let edges = BTreeMap::from([edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("d", "a"), edge("c", "e")]);
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
    assert!(cycles(&BTreeMap::from([edge("a", "b"), edge("b", "c")])).is_empty());
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let (_, graph) = dependency_graph();
    let mut report = Vec::new();
    for (folder, edges) in &graph {
        for component in cycles(edges) {
            let evidence: Vec<String> = edges
                .iter()
                .filter(|((from, to), _)| component.contains(from) && component.contains(to))
                .map(|((from, to), files)| format!("    {from} -> {to} ({})", files.iter().cloned().collect::<Vec<_>>().join(", ")))
                .collect();
            report.push(format!("in src/{}: {}\n{}", folder.join("/"), component.join(", "), evidence.join("\n")));
        }
    }
    assert!(report.is_empty(), "module cycles:\n{}", report.join("\n"));
}
