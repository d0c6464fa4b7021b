//! `webmon regions`: the probe regions of a deployment, as the Pulumi stack files say.
//!
//! The home region is the home stack's `aws:region` (`Pulumi.<stack>.yaml`); its probe
//! and config Lambdas are in the home stack. Every other probe region is one stack of
//! `regions/` with its file `regions/Pulumi.<region>.yaml`, which owns the region's
//! replica of the KMS key and of the check table. Adding a region writes that file and
//! adds the region to the home stack's `webmon:probeRegions` (the list the alert
//! evaluator expects results from), keeping the rest of the home file as written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_yaml::Value;

/// Pulumi project name of the home program (`Pulumi.yaml`).
const HOME_PROJECT: &str = "webmon";
/// Config key of the region program naming the home stack.
const HOME_STACK_KEY: &str = "webmon-regions:homeStack";
/// Organization of Pulumi's local backend.
const LOCAL_ORG: &str = "organization";

/// Arguments of `webmon regions`.
#[derive(clap::Args)]
pub struct Args {
    /// Repository root holding Pulumi.yaml, Pulumi.<stack>.yaml and regions/.
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    /// Home stack name (Pulumi.<stack>.yaml); needed only when there are several.
    #[arg(long, global = true)]
    stack: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Show the home region and the region stack files, and what is wrong with them.
    List {
        /// Print JSON (`home`, `regions`, `problems`).
        #[arg(long)]
        json: bool,
    },
    /// Add a probe region: write regions/Pulumi.REGION.yaml and print what to run.
    Add {
        /// AWS region name, e.g. eu-central-1. Not the home region.
        region: String,
        /// Pulumi organization of the home stack (`pulumi whoami`). Default: the one the
        /// existing region stack files name for this home stack, else `organization`
        /// (the local backend's).
        #[arg(long)]
        org: Option<String>,
    },
}

/// Runs `webmon regions`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = HomeStack::find(&args.root, args.stack.as_deref())?;
    match args.command {
        Command::List { json } => list(&args.root, &home, json),
        Command::Add { region, org } => add(&args.root, &home, &region, org),
    }
}

/// The home stack file and what it says about regions.
struct HomeStack {
    name: String,
    region: Option<String>,
    legacy_replicas: usize,
}

impl HomeStack {
    fn find(root: &Path, stack: Option<&str>) -> anyhow::Result<Self> {
        let mut names = Vec::new();
        let entries = std::fs::read_dir(root)
            .with_context(|| format!("failed to read {}", root.display()))?;
        for entry in entries {
            let file = entry?.file_name().to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_prefix("Pulumi.")
                .and_then(|f| f.strip_suffix(".yaml"))
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let name = match (stack, names.as_slice()) {
            (Some(s), _) => s.to_owned(),
            (None, [one]) => one.clone(),
            (None, []) => bail!(
                "failed to find a home stack file Pulumi.<stack>.yaml in {}",
                root.display()
            ),
            (None, many) => bail!(
                "failed to choose a home stack: several found ({}); pass --stack",
                many.join(", ")
            ),
        };
        let path = root.join(format!("Pulumi.{name}.yaml"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let config =
            parse_config(&text).with_context(|| format!("failed to parse {}", path.display()))?;
        let region = config
            .get("aws:region")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let legacy_replicas = config
            .get("webmon:replicas")
            .and_then(Value::as_sequence)
            .map_or(0, Vec::len);
        Ok(Self {
            name,
            region,
            legacy_replicas,
        })
    }

    fn file(&self) -> String {
        format!("Pulumi.{}.yaml", self.name)
    }

    /// The home region, or an error naming the file that lacks it.
    fn region(&self) -> anyhow::Result<&str> {
        match self.region.as_deref() {
            Some(r) => Ok(r),
            None => bail!("{} does not set aws:region", self.file()),
        }
    }
}

fn parse_config(text: &str) -> anyhow::Result<serde_yaml::Mapping> {
    let doc: Value = serde_yaml::from_str(text)?;
    Ok(doc
        .get("config")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default())
}

/// Region stack files: region name (from the file name) -> the config it sets.
fn region_stacks(root: &Path) -> anyhow::Result<Vec<(String, serde_yaml::Mapping)>> {
    let dir = root.join("regions");
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("failed to read {}", dir.display()))?;
    for entry in entries {
        let file = entry?.file_name().to_string_lossy().into_owned();
        let Some(region) = file
            .strip_prefix("Pulumi.")
            .and_then(|f| f.strip_suffix(".yaml"))
        else {
            continue;
        };
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let config =
            parse_config(&text).with_context(|| format!("failed to parse {}", path.display()))?;
        out.push((region.to_owned(), config));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// `<org>/webmon/<stack>` -> `<org>`, when the reference names this home stack.
fn org_of<'a>(reference: &'a str, home: &HomeStack) -> Option<&'a str> {
    let mut parts = reference.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(HOME_PROJECT), Some(stack), None)
            if !org.is_empty() && stack == home.name =>
        {
            Some(org)
        }
        _ => None,
    }
}

/// Everything wrong with the region stack files.
fn problems(home: &HomeStack, regions: &[(String, serde_yaml::Mapping)]) -> Vec<String> {
    let mut out = Vec::new();
    if home.region.is_none() {
        out.push(format!("{} does not set aws:region", home.file()));
    }
    for (region, config) in regions {
        let file = format!("regions/Pulumi.{region}.yaml");
        match config.get("aws:region").and_then(Value::as_str) {
            None => out.push(format!("{file} does not set aws:region")),
            Some(r) if r != region => out.push(format!("{file} sets aws:region {r}")),
            Some(_) => {}
        }
        if home.region.as_deref() == Some(region.as_str()) {
            out.push(format!(
                "{file} is for the home region, whose Lambdas are in the home stack: delete it"
            ));
        }
        match config.get(HOME_STACK_KEY).and_then(Value::as_str) {
            None => out.push(format!("{file} does not set {HOME_STACK_KEY}")),
            Some(r) if org_of(r, home).is_none() => out.push(format!(
                "{file} sets {HOME_STACK_KEY} {r}, not <org>/{HOME_PROJECT}/{}",
                home.name
            )),
            Some(_) => {}
        }
    }
    out
}

fn list(root: &Path, home: &HomeStack, json: bool) -> anyhow::Result<ExitCode> {
    let regions = region_stacks(root)?;
    if json {
        let found = problems(home, &regions);
        let mut rows = Vec::new();
        if let Some(region) = &home.region {
            rows.push(serde_json::json!({"region": region, "role": "home", "stack_file": home.file().to_string()}));
        }
        for (region, _) in &regions {
            rows.push(serde_json::json!({"region": region, "role": "probe", "stack_file": format!("regions/Pulumi.{region}.yaml")}));
        }
        let doc = serde_json::json!({"home_stack": home.name, "regions": rows, "problems": found});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(if found.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!("{:<16} {:<6} STACK FILE", "REGION", "ROLE");
    if let Some(region) = &home.region {
        println!("{region:<16} {:<6} {}", "home", home.file());
    }
    for (region, _) in &regions {
        println!("{region:<16} {:<6} regions/Pulumi.{region}.yaml", "probe");
    }
    if home.legacy_replicas > 0 {
        println!(
            "note: {} still lists {} legacy replica(s) in webmon:replicas; see docs/deploy.md, \
             \"Migrating an existing deployment\"",
            home.file(),
            home.legacy_replicas
        );
    }
    let found = problems(home, &regions);
    if found.is_empty() {
        println!(
            "home stack {}: {} probe region(s)",
            home.name,
            regions.len() + 1
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("home stack {}: region stack files to fix:", home.name);
    for p in &found {
        println!("  - {p}");
    }
    Ok(ExitCode::FAILURE)
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`.
fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// A valid Pulumi organization name: letters, digits, `-`, `_`, `.`.
fn valid_org(org: &str) -> bool {
    !org.is_empty()
        && org
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `regions` when run from the repository root, else `<root>/regions`.
fn regions_dir(root: &Path) -> String {
    if root == Path::new(".") {
        "regions".to_owned()
    } else {
        root.join("regions").display().to_string()
    }
}

fn add(
    root: &Path,
    home: &HomeStack,
    region: &str,
    org: Option<String>,
) -> anyhow::Result<ExitCode> {
    if !valid_region(region) {
        bail!("failed to add region {region:?}: not an AWS region name such as eu-central-1");
    }
    let home_region = home
        .region()
        .with_context(|| format!("failed to add region {region}"))?;
    if region == home_region {
        bail!(
            "failed to add region {region}: it is the home region ({} sets aws:region {region}); \
             its probe and config Lambdas are in the home stack",
            home.file()
        );
    }
    let file = root.join("regions").join(format!("Pulumi.{region}.yaml"));
    if file.exists() {
        bail!(
            "failed to add region {region}: regions/Pulumi.{region}.yaml already exists \
             (`webmon regions list` shows the regions)"
        );
    }
    let regions = region_stacks(root)?;
    let org = match org {
        Some(o) => o,
        None => {
            let mut known: Vec<&str> = regions
                .iter()
                .filter_map(|(_, c)| c.get(HOME_STACK_KEY).and_then(Value::as_str))
                .filter_map(|r| org_of(r, home))
                .collect();
            known.sort_unstable();
            known.dedup();
            match known.as_slice() {
                [] => {
                    println!(
                        "using Pulumi organization {LOCAL_ORG} (the local backend's); for another backend \
                         pass --org with the one `pulumi whoami` prints"
                    );
                    LOCAL_ORG.to_owned()
                }
                [one] => (*one).to_owned(),
                many => bail!(
                    "failed to add region {region}: the region stack files name several \
                     organizations ({}); pass --org",
                    many.join(", ")
                ),
            }
        }
    };
    if !valid_org(&org) {
        bail!("failed to add region {region}: {org:?} is not a Pulumi organization name");
    }
    let reference = format!("{org}/{HOME_PROJECT}/{}", home.name);
    let body = format!(
        "# Probe region stack for {region} (`pulumi stack init {region}` in regions/).\n\
         config:\n  aws:region: {region}\n  {HOME_STACK_KEY}: {reference}\n"
    );
    let home_file = root.join(home.file());
    let home_text = std::fs::read_to_string(&home_file)
        .with_context(|| format!("failed to read {}", home_file.display()))?;
    let home_text = with_probe_region(&home_text, region).with_context(|| {
        format!(
            "failed to add {region} to webmon:probeRegions in {}",
            home.file()
        )
    })?;
    std::fs::write(&file, body).with_context(|| format!("failed to write {}", file.display()))?;
    std::fs::write(&home_file, home_text)
        .with_context(|| format!("failed to write {}", home_file.display()))?;
    println!("regions/Pulumi.{region}.yaml: created (home stack {reference})");
    println!("{}: {region} added to webmon:probeRegions", home.file());
    let dir = regions_dir(root);
    println!("Next, in this order:");
    println!("  pulumi stack init {region} --cwd {dir}");
    println!("  pulumi up --cwd {dir} --stack {region}");
    println!(
        "  webmon resync --region {region} --probe-arn \"$(pulumi stack output probeFunctionArn --cwd {dir} --stack {region})\""
    );
    println!(
        "  pulumi up --stack {}   (the writer and sweeper expect results from {region})",
        home.name
    );
    Ok(ExitCode::SUCCESS)
}

/// The home stack file with `region` added to `webmon:probeRegions` (a block list is
/// extended in place, an inline or missing one becomes a block list), every other line
/// kept as written. Checked by parsing the result.
fn with_probe_region(text: &str, region: &str) -> anyhow::Result<String> {
    const KEY: &str = "webmon:probeRegions:";
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    match lines.iter().position(|l| l.trim_start().starts_with(KEY)) {
        Some(i) => {
            let key_indent = indent_of(&lines[i]);
            let inline = lines[i].trim_start()[KEY.len()..].trim().to_string();
            if inline.is_empty() {
                // Block list: insert after its last item.
                let mut last = i;
                while last + 1 < lines.len()
                    && (lines[last + 1].trim().is_empty()
                        || indent_of(&lines[last + 1]) > key_indent
                        || lines[last + 1].trim_start().starts_with("- "))
                {
                    last += 1;
                    if lines[last].trim().is_empty() {
                        break;
                    }
                }
                let item_indent = lines
                    .get(i + 1)
                    .filter(|l| l.trim_start().starts_with("- "))
                    .map_or(key_indent + 2, |l| indent_of(l));
                let at = if lines[last].trim().is_empty() {
                    last
                } else {
                    last + 1
                };
                lines.insert(at, format!("{}- {region}", " ".repeat(item_indent)));
            } else {
                // Inline `[a, b]`: rewrite as a block list.
                let items: Vec<String> = inline
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .chain(std::iter::once(region.to_string()))
                    .collect();
                let pad = " ".repeat(key_indent);
                let mut block = vec![format!("{pad}{KEY}")];
                block.extend(items.iter().map(|r| format!("{pad}  - {r}")));
                lines.splice(i..=i, block);
            }
        }
        None => {
            let indent = lines
                .iter()
                .find(|l| l.trim_start().starts_with("aws:region:"))
                .map_or(2, |l| indent_of(l));
            let pad = " ".repeat(indent);
            lines.push(format!("{pad}{KEY}"));
            lines.push(format!("{pad}  - {region}"));
        }
    }
    let out = lines.join("\n") + "\n";
    let doc: Value = serde_yaml::from_str(&out).context("the edited file is not YAML")?;
    let listed = doc
        .get("config")
        .and_then(|c| c.get("webmon:probeRegions"))
        .and_then(Value::as_sequence)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(region)));
    if !listed {
        bail!("the file's layout is not one this edit understands; add `- {region}` under webmon:probeRegions by hand");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::with_probe_region;

    #[test]
    fn probe_regions_are_extended_in_every_layout() {
        let block = "# home\nconfig:\n  aws:region: us-east-1\n  webmon:probeRegions:\n    - eu-west-1\n  webmon:tenant: t # kept\n";
        let out = with_probe_region(block, "ap-south-1").unwrap();
        assert_eq!(out, "# home\nconfig:\n  aws:region: us-east-1\n  webmon:probeRegions:\n    - eu-west-1\n    - ap-south-1\n  webmon:tenant: t # kept\n");
        let inline = "config:\n  aws:region: us-east-1\n  webmon:probeRegions: [eu-west-1]\n";
        let out = with_probe_region(inline, "ap-south-1").unwrap();
        assert!(
            out.contains("  webmon:probeRegions:\n    - eu-west-1\n    - ap-south-1\n"),
            "{out}"
        );
        let missing = "config:\n  aws:region: us-east-1\n";
        let out = with_probe_region(missing, "ap-south-1").unwrap();
        assert!(
            out.ends_with("  webmon:probeRegions:\n    - ap-south-1\n"),
            "{out}"
        );
    }
}
