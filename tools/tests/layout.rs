//! The code's shape, kept (issue #16's "done when"): every source file under `app/src`,
//! `engine/src` and `wire/src` is at most 400 lines, every function at most 80 lines, and no
//! modules of a crate import each other in a circle (`a` uses `b` and `b` uses `a`, directly or
//! through others; a module and its own submodules do not count).
//!
//! The source is read as text: a function runs from its `fn` line to the first line holding
//! only a `}` at the same indentation (as rustfmt writes it); a module's imports are the
//! `crate::…` and `super::…` paths outside comments and outside its `mod tests`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The source trees checked, from the workspace root.
const TREES: [&str; 3] = ["app/src", "engine/src", "wire/src"];
/// Most lines in one file.
const MAX_FILE_LINES: usize = 400;
/// Most lines in one function, its signature and closing brace included.
const MAX_FN_LINES: usize = 80;

type ModPath = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tools crate sits in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file of `tree` with its text.
fn sources(tree: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&workspace().join(tree), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no source files under {tree}");
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).expect("read source");
            (f, text)
        })
        .collect()
}

#[test]
fn every_source_file_is_at_most_400_lines() {
    let mut long = Vec::new();
    for tree in TREES {
        for (file, text) in sources(tree) {
            let n = text.lines().count();
            if n > MAX_FILE_LINES {
                long.push(format!("{}: {n} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines: {long:#?}"
    );
}

/// The line starts a function (with a body or, in a trait, without).
fn starts_fn(line: &str) -> bool {
    let mut t = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        t = t.strip_prefix(prefix).unwrap_or(t);
    }
    t.starts_with("fn ")
}

/// (first line, length) of every function with a body in `text`.
fn functions(text: &str) -> Vec<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !starts_fn(line) {
            continue;
        }
        // A declaration without a body ends with `;` before any `{`.
        let opens = lines[i..]
            .iter()
            .position(|l| l.contains('{') || l.trim_end().ends_with(';'));
        match opens {
            Some(k) if lines[i + k].contains('{') => {}
            _ => continue,
        }
        if line.trim_end().ends_with('}') {
            found.push((i + 1, 1));
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(k) = lines[i + 1..].iter().position(|l| l.trim_end() == close) {
            found.push((i + 1, k + 2));
        }
    }
    found
}

#[test]
fn the_function_finder_measures_what_rustfmt_writes() {
    let text = [
        "fn a() {",
        "    x();",
        "}",
        "",
        "trait T {",
        "    fn b(&self);",
        "    fn c(&self) {",
        "        y();",
        "        z();",
        "    }",
        "}",
        "fn d() {}",
    ]
    .join("\n");
    let text = text.as_str();
    assert_eq!(functions(text), [(1, 3), (7, 4), (12, 1)]);
}

#[test]
fn every_function_is_at_most_80_lines() {
    let mut long = Vec::new();
    for tree in TREES {
        for (file, text) in sources(tree) {
            for (line, n) in functions(&text) {
                if n > MAX_FN_LINES {
                    long.push(format!("{}:{line}: {n} lines", file.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long:#?}"
    );
}

/// The module a file is: `a/b.rs` and `a/b/mod.rs` are `[a, b]`; `lib.rs` and `main.rs` the
/// crate root.
fn module_of(tree: &Path, file: &Path) -> ModPath {
    let rel = file
        .strip_prefix(tree)
        .expect("under its tree")
        .with_extension("");
    let mut path: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// `text` without `//` comments and without a trailing `#[cfg(test)] mod tests` block.
fn code_of(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The child modules `code` declares from files (`mod name;`, with any visibility).
fn child_modules(code: &str) -> Vec<String> {
    code.split(';')
        .filter_map(|stmt| {
            let words: Vec<&str> = stmt.split_whitespace().collect();
            match words.as_slice() {
                [.., "mod", name] if name.chars().all(is_ident) => Some((*name).to_string()),
                _ => None,
            }
        })
        .collect()
}

/// Every `crate::…`, `super::…`, `self::…` path in `code`, and every path into one of its own
/// child modules (`options::ServeOptions` after `mod options;`: a parent → child edge), as
/// segments; a `{a, b::c}` group gives one path per item.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut starts: Vec<String> = vec!["crate::".into(), "super::".into(), "self::".into()];
    starts.extend(child_modules(code).into_iter().map(|m| format!("{m}::")));
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word = i == 0 || !is_ident(chars[i - 1]);
        let in_path = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
        let rest: String = chars[i..chars.len().min(i + 40)].iter().collect();
        if !(at_word && !in_path && starts.iter().any(|p| rest.starts_with(p.as_str()))) {
            i += 1;
            continue;
        }
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            segs.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                j += 2;
                if chars.get(j) == Some(&'{') {
                    let end = chars[j..]
                        .iter()
                        .position(|&c| c == '}')
                        .map_or(chars.len(), |k| j + k);
                    let group: String = chars[j + 1..end].iter().collect();
                    for item in group.split(',') {
                        let first = item.trim().split("::").next().unwrap_or_default();
                        let first = first.split_whitespace().next().unwrap_or_default();
                        if !first.is_empty() && first != "self" && first.chars().all(is_ident) {
                            let mut p = segs.clone();
                            p.push(first.to_string());
                            out.push(p);
                        }
                    }
                    j = end;
                    segs.clear();
                    break;
                }
                continue;
            }
            break;
        }
        if !segs.is_empty() {
            out.push(segs);
        }
        i = j.max(i + 1);
    }
    out
}

/// The module `path` (as written in module `from`) names: as many leading segments as are
/// modules of the crate.
fn resolve(from: &ModPath, path: &[String], modules: &BTreeSet<ModPath>) -> ModPath {
    let mut at: ModPath = Vec::new();
    let mut segs = path.iter().peekable();
    if segs.peek().map(|s| s.as_str()) == Some("crate") {
        segs.next();
    } else {
        if segs.peek().map(|s| s.as_str()) == Some("self") {
            segs.next();
        }
        at = from.clone();
        while segs.peek().map(|s| s.as_str()) == Some("super") {
            segs.next();
            at.pop();
        }
    }
    for s in segs {
        let mut next = at.clone();
        next.push(s.clone());
        if !modules.contains(&next) {
            break;
        }
        at = next;
    }
    at
}

/// Module → the modules it imports, its own children included (a parent that uses its child is
/// an edge: `secure::listener → server → server::options → secure::listener` is a circle), its
/// ancestors left out (a child sees its parent's items as its context).
fn imports(tree: &str) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let root = workspace().join(tree);
    let files = sources(tree);
    let modules: BTreeSet<ModPath> = files.iter().map(|(f, _)| module_of(&root, f)).collect();
    let mut graph = BTreeMap::new();
    for (file, text) in &files {
        let from = module_of(&root, file);
        let targets: BTreeSet<ModPath> = paths(&code_of(text))
            .iter()
            .map(|p| resolve(&from, p, &modules))
            .filter(|t| !from.starts_with(t))
            .collect();
        graph.insert(from, targets);
    }
    graph
}

/// A circle in `graph`, if any, as the modules along it.
fn circle(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Option<Vec<ModPath>> {
    fn visit(
        n: &ModPath,
        graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
    ) -> Option<Vec<ModPath>> {
        if let Some(k) = stack.iter().position(|m| m == n) {
            let mut found = stack[k..].to_vec();
            found.push(n.clone());
            return Some(found);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.clone());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn imports_are_read_from_paths_and_groups() {
    let code = code_of(
        &[
            "use super::output::{Output, numbered};",
            "use crate::audio::{dsp, level::Level};",
            "// crate::web::x",
            "fn f() { crate::server::run(); }",
            "mod options;",
            "pub use options::{ServeOptions, new_id};",
            "fn g() { self::a::b(); crate::x::options::c(); }",
        ]
        .join("\n"),
    );
    let found: Vec<String> = paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "super::output::Output",
            "super::output::numbered",
            "crate::audio::dsp",
            "crate::audio::level",
            "crate::server::run",
            "options::ServeOptions",
            "options::new_id",
            "self::a::b",
            "crate::x::options::c"
        ]
    );
    let modules: BTreeSet<ModPath> = [
        vec!["a".to_string()],
        vec!["a".into(), "b".into()],
        vec!["c".into()],
    ]
    .into_iter()
    .collect();
    let from: ModPath = vec!["a".into(), "b".into()];
    let up: Vec<String> = vec!["super".into(), "super".into(), "c".into(), "f".into()];
    assert_eq!(resolve(&from, &up, &modules), vec!["c".to_string()]);
    let mut graph = BTreeMap::new();
    graph.insert(
        vec!["a".to_string()],
        [vec!["c".to_string()]].into_iter().collect(),
    );
    assert_eq!(circle(&graph), None);
    graph.insert(
        vec!["c".to_string()],
        [vec!["a".to_string()]].into_iter().collect(),
    );
    assert!(circle(&graph).is_some(), "a → c → a");
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    for tree in TREES {
        let graph = imports(tree);
        if let Some(c) = circle(&graph) {
            let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
            panic!("{tree}: modules in a circle: {}", names.join(" → "));
        }
    }
}

/// The top level is the design's (`Cargo.toml, app/, engine/, wire/, assets/, packaging/,
/// tests/`, with `tools/` and `third_party/` the documented exceptions): the end-to-end tests
/// of the binary and what they share are in `tests/`, a workspace member, not in `app/tests/`
/// and a separate `testkit/`.
#[test]
fn the_top_level_is_the_designs() {
    let root = workspace();
    for part in [
        "Cargo.toml",
        "app",
        "engine",
        "wire",
        "assets",
        "packaging",
        "tests",
    ] {
        assert!(root.join(part).exists(), "{part} is missing at the top");
    }
    let members = fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        members.contains("\"tests\""),
        "tests/ is a workspace member"
    );
    let tests: Vec<_> = fs::read_dir(root.join("tests"))
        .expect("tests/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .collect();
    assert!(
        tests.len() > 10,
        "the end-to-end tests are in tests/ ({} files)",
        tests.len()
    );
    for gone in ["app/tests", "testkit"] {
        assert!(!root.join(gone).exists(), "{gone} should be in tests/");
    }
}
