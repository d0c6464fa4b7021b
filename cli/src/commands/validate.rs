//! `webmon validate FILE`: every problem in a checks file at once, each with its line
//! and column, warnings for what validates but will not work as written, and the count
//! of checks that would run. `-` reads standard input.

use std::io::Read;
use std::net::IpAddr;
use std::process::ExitCode;

use webmon_core::check::{
    locate, locate_setting, parse_checks_document_with, Check, ValidationError,
};

use super::secrets::SecretArgs;

/// Arguments of `webmon validate`.
#[derive(clap::Args)]
pub struct Args {
    /// The checks file (YAML with a top-level `checks:` list); `-` reads stdin.
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Print the outcome as JSON (`valid`, `checks`, `errors`, `warnings`).
    #[arg(long)]
    pub json: bool,
    /// The checks will run with `--allow-private`: no warning for private addresses of
    /// checks that set `allow_private: true`.
    #[arg(long)]
    pub allow_private: bool,
    /// Which `${env:NAME}` references the checks may use.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// Why a URL's literal host will be refused by the SSRF guard, if it will.
fn private_host(check: &Check) -> Option<&'static str> {
    let host = check.url.host_str()?;
    if host.eq_ignore_ascii_case("localhost") {
        return Some("loopback");
    }
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("loopback"),
        IpAddr::V4(v4) if v4.is_private() => Some("private"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => Some("private"),
        _ => None,
    }
}

/// What validates but will not work as written.
fn warnings(checks: &[Check], operator_allows: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if checks.is_empty() {
        out.push((
            "<file>".into(),
            "the file has no valid checks: nothing will run".into(),
        ));
    }
    for c in checks {
        if let Some(kind) = private_host(c) {
            if !(c.allow_private && operator_allows) {
                let need = match (c.allow_private, operator_allows) {
                    (false, _) => "the check sets `allow_private: true` and ",
                    (true, false) => "",
                    (true, true) => unreachable!(),
                };
                out.push((
                    c.id.clone(),
                    format!("url {} is a {kind} address: probes refuse it unless {need}webmon runs with --allow-private", c.url),
                ));
            }
        }
    }
    out
}

/// Runs `webmon validate`: exit 0 when the file has no error, 1 otherwise, 2 when it
/// cannot be read.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.config.path()?;
    let (name, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| super::bad_input(format!("failed to read the checks from stdin: {e}")))?;
        ("<stdin>".to_string(), text)
    } else {
        super::paths::checks_file(&path)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            super::bad_input(format!(
                "failed to read the checks file {}: {e}",
                path.display()
            ))
        })?;
        (path.display().to_string(), text)
    };
    let outcome = super::alerts::with_alerting_errors(
        &text,
        &args.secrets.policy(),
        parse_checks_document_with(&text, &args.secrets.policy()),
    );
    let warnings = warnings(&outcome.checks, args.allow_private);
    let position = |e: &ValidationError| {
        if e.check_id == "<file>" && e.field.starts_with("settings") {
            locate_setting(&text, &e.field)
        } else {
            locate(&text, &e.check_id, &e.field)
        }
    };
    if args.json {
        let ids: Vec<&str> = outcome.checks.iter().map(|c| c.id.as_str()).collect();
        let errors: Vec<serde_json::Value> = outcome
            .errors
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let (Some((line, column)), Some(map)) = (position(e), v.as_object_mut()) {
                    map.insert("line".into(), line.into());
                    map.insert("column".into(), column.into());
                }
                v
            })
            .collect();
        let warnings: Vec<serde_json::Value> = warnings
            .iter()
            .map(|(id, w)| serde_json::json!({ "check_id": id, "warning": w }))
            .collect();
        let doc = serde_json::json!({
            "file": name,
            "valid": ids.len(),
            "checks": ids,
            "errors": errors,
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for error in &outcome.errors {
            match position(error) {
                Some((line, column)) => println!("{name}:{line}:{column}: error: {error}"),
                None => println!("{name}: error: {error}"),
            }
        }
        for (id, warning) in &warnings {
            match id.as_str() {
                "<file>" => println!("{name}: warning: {warning}"),
                id => println!("{name}: warning: check {id:?}: {warning}"),
            }
        }
        println!("{name}: {}", outcome.summary());
    }
    Ok(if outcome.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
