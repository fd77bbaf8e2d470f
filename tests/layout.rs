//! The source tree's shape: the top-level modules of `src/` depend on each other without
//! a cycle (a cycle ties modules together so that none can change alone), no file is
//! longer than a reader can hold (400 lines), and no function longer than a screen (60).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code names (`crate::x`), comments aside.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = graph.entry(module.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let name: String = line[at + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    // macros exported at the crate root are not modules
    for deps in graph.values_mut() {
        deps.retain(|d| d != "warn");
    }
    graph
}

/// Depth first from `node`; panics naming the cycle when the path comes back to itself.
fn visit(
    node: &str,
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) {
    if let Some(at) = path.iter().position(|p| p == node) {
        panic!("import cycle: {} → {node}", path[at..].join(" → "));
    }
    if !done.insert(node.to_owned()) && !path.is_empty() {
        return;
    }
    path.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if graph.contains_key(next) {
            visit(next, graph, path, done);
        }
    }
    path.pop();
}

#[test]
fn the_top_level_modules_have_no_import_cycle() {
    let graph = dependencies();
    assert!(graph.contains_key("select") && graph.contains_key("settings"));
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

/// Every `.rs` file under `src/`, with its text.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path, text));
            }
        }
    }
    found
}

/// `(name, first line, length)` of each function with a body: from its `fn` line to the
/// closing brace at the same indentation.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        let after_qualifiers = code
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        let Some(rest) = after_qualifiers.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // a declaration without a body (in a trait) ends with `;` before any `{`
        let signature_end = lines[at..]
            .iter()
            .position(|l| l.contains('{') || l.trim_end().ends_with(';'));
        if signature_end.is_none_or(|e| !lines[at + e].contains('{')) {
            continue;
        }
        let closing = format!("{indent}}}");
        if let Some(length) = lines[at..].iter().position(|l| *l == closing) {
            found.push((name, at + 1, length + 1));
        }
    }
    found
}

#[test]
fn no_file_over_400_lines_and_no_function_over_60() {
    let mut too_long = Vec::new();
    for (path, text) in sources() {
        let shown = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        let lines = text.lines().count();
        if lines > 400 {
            too_long.push(format!("{shown}: {lines} lines"));
        }
        for (name, at, length) in functions(&text) {
            if length > 60 {
                too_long.push(format!("{shown}:{at}: fn {name} is {length} lines"));
            }
        }
    }
    assert!(too_long.is_empty(), "too long:\n{}", too_long.join("\n"));
}

#[test]
fn the_readme_layout_names_every_source_file_once() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let listed: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("src/"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = sources()
        .into_iter()
        .map(|(path, _)| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    files.sort();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, files, "README's layout: one line per file of src/");
}
