//! `webmon regions`: the probe regions of a deployment, as the Pulumi stack files say.
//!
//! Two places name the regions and must agree: the home stack's `webmon:replicas` list
//! (one DynamoDB replica per probe region other than the home region) and the stack files
//! `regions/Pulumi.<region>.yaml` (one per probe region, the home region included).
//! `list` shows both and whether they agree; `add` edits both and prints what to run.
//! The home stack file is edited as text, so its comments and layout survive.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_yaml::Value;

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
    /// Show the home stack's replicas and the region stack files, and whether they agree.
    List,
    /// Add a probe region: a replica in the home stack config and a region stack file.
    Add {
        /// AWS region name, e.g. eu-central-1.
        region: String,
        /// ARN of the KMS key in REGION that encrypts its replica. Default: the replica of
        /// the home multi-Region key, derived from an existing replica's key ARN.
        #[arg(long)]
        kms_key_arn: Option<String>,
        /// Fully qualified home stack for the region stack's StackReference
        /// (default: copied from an existing region stack file).
        #[arg(long)]
        home_stack_ref: Option<String>,
    },
}

/// Runs `webmon regions`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = HomeStack::find(&args.root, args.stack.as_deref())?;
    match args.command {
        Command::List => list(&args.root, &home),
        Command::Add {
            region,
            kms_key_arn,
            home_stack_ref,
        } => add(&args.root, &home, &region, kms_key_arn, home_stack_ref),
    }
}

/// The home stack file and what it says about regions.
struct HomeStack {
    name: String,
    path: PathBuf,
    text: String,
    region: Option<String>,
    replicas: Vec<(String, Option<String>)>,
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
        let mut replicas = Vec::new();
        if let Some(list) = config.get("webmon:replicas") {
            let Some(list) = list.as_sequence() else {
                bail!(
                    "failed to read webmon:replicas in {}: not a list",
                    path.display()
                );
            };
            for item in list {
                let Some(region) = item.get("regionName").and_then(Value::as_str) else {
                    bail!(
                        "failed to read webmon:replicas in {}: an entry has no regionName",
                        path.display()
                    );
                };
                let key = item
                    .get("kmsKeyArn")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                replicas.push((region.to_owned(), key));
            }
        }
        Ok(Self {
            name,
            path,
            text,
            region,
            replicas,
        })
    }

    fn replica_names(&self) -> BTreeSet<String> {
        self.replicas.iter().map(|(r, _)| r.clone()).collect()
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

/// Region stack files: region name -> the config it sets.
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

/// Every disagreement between the home stack and the region stack files.
fn problems(home: &HomeStack, regions: &[(String, serde_yaml::Mapping)]) -> Vec<String> {
    let mut out = Vec::new();
    let files: BTreeSet<String> = regions.iter().map(|(r, _)| r.clone()).collect();
    let replicas = home.replica_names();
    let home_region = home.region.clone().unwrap_or_default();
    if home.region.is_none() {
        out.push(format!("Pulumi.{}.yaml does not set aws:region", home.name));
    }
    for (region, config) in regions {
        match config.get("aws:region").and_then(Value::as_str) {
            None => out.push(format!(
                "regions/Pulumi.{region}.yaml does not set aws:region"
            )),
            Some(r) if r != region => {
                out.push(format!("regions/Pulumi.{region}.yaml sets aws:region {r}"))
            }
            Some(_) => {}
        }
        if *region != home_region && !replicas.contains(region) {
            out.push(format!(
                "{region} has a stack file but no replica in Pulumi.{}.yaml",
                home.name
            ));
        }
    }
    for region in &replicas {
        if !files.contains(region) {
            out.push(format!(
                "replica {region} has no regions/Pulumi.{region}.yaml"
            ));
        }
    }
    if home.region.is_some() && !files.contains(&home_region) {
        out.push(format!(
            "home region {home_region} has no regions/Pulumi.{home_region}.yaml"
        ));
    }
    if replicas.contains(&home_region) {
        out.push(format!(
            "home region {home_region} is also listed as a replica"
        ));
    }
    out
}

fn list(root: &Path, home: &HomeStack) -> anyhow::Result<ExitCode> {
    let regions = region_stacks(root)?;
    let files: BTreeSet<String> = regions.iter().map(|(r, _)| r.clone()).collect();
    let mut all = home.replica_names();
    all.extend(files.iter().cloned());
    all.extend(home.region.clone());
    println!(
        "{:<16} {:<8} {:<13} STACK FILE",
        "REGION", "ROLE", "HOME CONFIG"
    );
    for region in &all {
        let is_home = home.region.as_deref() == Some(region.as_str());
        let role = if is_home { "home" } else { "replica" };
        let in_config = if is_home {
            "(table)"
        } else if home.replica_names().contains(region) {
            "yes"
        } else {
            "missing"
        };
        let file = if files.contains(region) {
            "yes"
        } else {
            "missing"
        };
        println!("{region:<16} {role:<8} {in_config:<13} {file}");
    }
    let found = problems(home, &regions);
    if found.is_empty() {
        println!(
            "home stack {} and regions/ agree: {} probe region(s)",
            home.name,
            all.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("home stack {} and regions/ disagree:", home.name);
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

/// The region field of a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
fn arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() == 6 && parts[2] == "kms").then_some(parts[3])
}

/// The same multi-Region key id in another region, from an existing replica's key.
fn derive_key(home: &HomeStack, region: &str) -> Option<String> {
    home.replicas
        .iter()
        .filter_map(|(_, k)| k.as_deref())
        .find_map(|arn| {
            let mut parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || !parts[5].starts_with("key/mrk-") {
                return None;
            }
            parts[3] = region;
            Some(parts.join(":"))
        })
}

/// Inserts a replica entry into the home stack text, keeping everything else as is.
fn insert_replica(text: &str, region: &str, key: &str) -> anyhow::Result<String> {
    let entry = format!(
        "    - regionName: {region}\n      kmsKeyArn: {key}\n      pointInTimeRecovery: true\n      propagateTags: true\n"
    );
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("webmon:replicas:"))
    else {
        let Some(config) = lines.iter().position(|l| l.trim_end() == "config:") else {
            bail!("failed to edit the home stack file: it has no `config:` section");
        };
        let mut out: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
        out.insert(config + 1, format!("  webmon:replicas:\n{entry}"));
        return Ok(out.concat());
    };
    let mut out: Vec<String> = lines[..start].iter().map(|l| format!("{l}\n")).collect();
    let head = lines[start].trim_end();
    let mut end = start + 1;
    if head.ends_with("[]") {
        out.push(format!("{}\n", head.trim_end_matches("[]").trim_end()));
    } else {
        out.push(format!("{head}\n"));
        let indent = lines[start].len() - lines[start].trim_start().len();
        while end < lines.len() {
            let line = lines[end];
            let depth = line.len() - line.trim_start().len();
            if !line.trim().is_empty() && depth <= indent && !line.trim_start().starts_with('-') {
                break;
            }
            out.push(format!("{line}\n"));
            end += 1;
        }
    }
    out.push(entry);
    out.extend(lines[end..].iter().map(|l| format!("{l}\n")));
    Ok(out.concat())
}

fn add(
    root: &Path,
    home: &HomeStack,
    region: &str,
    kms_key_arn: Option<String>,
    home_stack_ref: Option<String>,
) -> anyhow::Result<ExitCode> {
    if !valid_region(region) {
        bail!("failed to add region {region:?}: not an AWS region name such as eu-central-1");
    }
    let regions = region_stacks(root)?;
    let is_home = home.region.as_deref() == Some(region);
    let mut steps = Vec::new();
    if !is_home && !home.replica_names().contains(region) {
        let key = match kms_key_arn.or_else(|| derive_key(home, region)) {
            Some(k) => k,
            None => bail!(
                "failed to choose a KMS key for {region}: pass --kms-key-arn with the replica of the home \
                 multi-Region key in {region} (see docs/deploy.md)"
            ),
        };
        if arn_region(&key) != Some(region) {
            bail!("failed to add region {region}: --kms-key-arn {key} is not a KMS key ARN in {region}");
        }
        let text = insert_replica(&home.text, region, &key)?;
        let added = parse_config(&text)
            .ok()
            .and_then(|c| c.get("webmon:replicas").cloned())
            .is_some_and(|list| {
                list.as_sequence().is_some_and(|l| {
                    l.iter()
                        .any(|i| i.get("regionName").and_then(Value::as_str) == Some(region))
                })
            });
        if !added {
            bail!(
                "failed to edit {}: the edited file would not hold the new replica",
                home.path.display()
            );
        }
        std::fs::write(&home.path, text)
            .with_context(|| format!("failed to write {}", home.path.display()))?;
        println!(
            "Pulumi.{}.yaml: added replica {region} (key {key})",
            home.name
        );
        let home_key = home
            .region
            .as_deref()
            .and_then(|h| derive_key(home, h))
            .unwrap_or_else(|| "<keyArn output>".into());
        steps.push(format!(
            "aws kms replicate-key --region {} --key-id {home_key} --replica-region {region}   # once, if the key does not exist yet",
            home.region.as_deref().unwrap_or("<home region>")
        ));
        steps.push(format!(
            "pulumi up --cwd {} --stack {}",
            root.display(),
            home.name
        ));
    } else {
        println!("Pulumi.{}.yaml: {region} already present", home.name);
    }
    let file = root.join("regions").join(format!("Pulumi.{region}.yaml"));
    if file.exists() {
        println!("regions/Pulumi.{region}.yaml: already present");
    } else {
        let reference = home_stack_ref
            .or_else(|| {
                regions.iter().find_map(|(_, c)| {
                    c.get("webmon-regions:homeStack")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            })
            .unwrap_or_else(|| format!("organization/webmon/{}", home.name));
        let body = format!(
            "# Probe region stack for {region} (`pulumi stack init {region}` in regions/).\n\
             config:\n  aws:region: {region}\n  webmon-regions:homeStack: {reference}\n"
        );
        std::fs::write(&file, body)
            .with_context(|| format!("failed to write {}", file.display()))?;
        println!("regions/Pulumi.{region}.yaml: created (home stack {reference})");
        steps.push(format!(
            "pulumi stack init {region} --cwd {}   # once",
            root.join("regions").display()
        ));
    }
    steps.push(format!(
        "pulumi up --cwd {} --stack {region}",
        root.join("regions").display()
    ));
    println!("Next, in this order:");
    for step in steps {
        println!("  {step}");
    }
    Ok(ExitCode::SUCCESS)
}
