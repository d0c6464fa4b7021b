//! Every `webmon` command the README and `docs/` show in a shell block names real
//! subcommands and real flags: each is checked against the binary's own `--help`, so a
//! renamed flag or subcommand fails here instead of in a reader's terminal. (The
//! commands themselves run in the tests of their features; many need AWS or a
//! deployment, which this check does not.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");

/// The documents: the README and every page of `docs/`.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    docs.sort();
    docs
}

/// `webmon ...` command lines inside fenced shell blocks, with their `file:line`.
fn commands(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let (mut in_fence, mut in_shell) = (false, false);
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_fence = !in_fence;
            // Shell blocks, and plain blocks (which hold command synopses).
            in_shell = in_fence && matches!(lang.trim(), "" | "sh" | "bash" | "shell");
            continue;
        }
        let command = trimmed.strip_prefix("$ ").unwrap_or(trimmed);
        // `cargo run ... -p webmon -- ARGS` runs `webmon ARGS`.
        let command = match command.split_once(" -p webmon ") {
            Some((cargo, rest)) if cargo.starts_with("cargo run") => match rest.split_once("-- ") {
                Some((_, args)) => format!("webmon {args}"),
                None => continue,
            },
            _ => command.to_string(),
        };
        let name = path.file_name().unwrap().to_string_lossy();
        if in_shell && command.starts_with("webmon ") {
            out.push((format!("{name}:{}", i + 1), command));
        } else if !in_fence {
            // Inline synopses such as `webmon alerts silence add (--check ID \| --tag k=v)`,
            // in tables and prose: alternatives and grouping are not words.
            for span in line.split('`').skip(1).step_by(2) {
                if let Some(rest) = span.strip_prefix("webmon ") {
                    let plain: String = rest
                        .replace("\\|", " ")
                        .chars()
                        .map(|c| if "|()".contains(c) { ' ' } else { c })
                        .collect();
                    out.push((format!("{name}:{}", i + 1), format!("webmon {plain}")));
                }
            }
        }
    }
    out
}

/// The words of a command line up to a comment, pipe, redirect or command separator,
/// with quotes removed and command substitutions (`$(...)`, another program's words)
/// left out.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut optional) = (0usize, 0usize);
    for word in command.split_whitespace() {
        // A synopsis's `[--json | --csv]`: the bar separates alternatives.
        optional += word.matches('[').count();
        let in_optional = optional > 0;
        optional = optional.saturating_sub(word.matches(']').count());
        if in_optional && word == "|" {
            continue;
        }
        if depth == 0
            && (word.starts_with('#') || ["|", ">", ">>", "&&", ";", "||", "2>&1"].contains(&word))
        {
            break;
        }
        let word = word.trim_matches(|c| c == '[' || c == ']');
        let opened = word.matches("$(").count();
        let closed = word.matches(')').count();
        let inside = depth > 0 || opened > 0;
        depth = (depth + opened).saturating_sub(closed);
        if !inside {
            out.push(word.trim_matches(|c| c == '"' || c == '\'').to_string());
        }
    }
    out
}

/// `webmon <path> --help`: the help text, if the path is a command.
fn help(path: &[String]) -> Option<String> {
    let out = Command::new(WEBMON)
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `help` is the help of exactly `path` (its usage line names it).
fn is_help_of(help: &str, path: &[String]) -> bool {
    let usage = format!("Usage: webmon {}", path.join(" "));
    help.lines().any(|l| {
        l.strip_prefix(&usage)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

#[test]
fn every_documented_webmon_command_has_real_subcommands_and_flags() {
    let mut helps: BTreeMap<Vec<String>, Option<String>> = BTreeMap::new();
    let mut checked = 0;
    let mut problems = Vec::new();
    let has_bench = help(&["bench".to_string()]).is_some();
    let mut unchecked_bench = 0;
    for doc in documents() {
        for (place, line) in commands(&doc) {
            let words = words(&line);
            // The longest run of words after `webmon` that is a subcommand path.
            let mut path: Vec<String> = Vec::new();
            for word in words.iter().skip(1) {
                if word.starts_with('-') {
                    break;
                }
                let mut candidate = path.clone();
                candidate.push(word.clone());
                let text = helps
                    .entry(candidate.clone())
                    .or_insert_with(|| help(&candidate))
                    .clone();
                match text {
                    Some(text) if is_help_of(&text, &candidate) => path = candidate,
                    _ => break,
                }
            }
            if path.is_empty() {
                // `webmon bench` exists only in a build with the `bench` feature;
                // scripts/test-all.sh builds the tests with it, so CI checks these too.
                if words.get(1).map(String::as_str) == Some("bench") && !has_bench {
                    unchecked_bench += 1;
                    continue;
                }
                problems.push(format!("{place}: `{line}` names no webmon subcommand"));
                continue;
            }
            let text = helps
                .entry(path.clone())
                .or_insert_with(|| help(&path))
                .clone()
                .unwrap_or_default();
            for word in &words {
                let Some(flag) = word.strip_prefix("--") else {
                    continue;
                };
                let flag = flag.split('=').next().unwrap();
                if flag.is_empty() || flag == "help" {
                    continue;
                }
                let known = text.contains(&format!("--{flag} "))
                    || text.contains(&format!("--{flag}\n"))
                    || text.contains(&format!("--{flag},"))
                    || text.contains(&format!("--{flag}="));
                if !known {
                    problems.push(format!(
                        "{place}: `webmon {}` has no flag --{flag} (in `{line}`)",
                        path.join(" ")
                    ));
                }
            }
            checked += 1;
        }
    }
    eprintln!("{checked} documented commands checked");
    if unchecked_bench > 0 {
        eprintln!(
            "{unchecked_bench} `webmon bench` commands not checked: this binary was built \
             without --features bench (scripts/test-all.sh builds with it)"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The documents show dozens of commands; finding few means the extraction broke.
    assert!(checked >= 40, "only {checked} documented commands found");
}
