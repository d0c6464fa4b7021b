//! `webmon alerts silence add|list|expire`: ad-hoc silences in the store `webmon run`
//! reads them from at every evaluation. A silence covers one check or one `key=value`
//! tag and always ends.

use std::process::ExitCode;
use std::time::Duration;

use webmon_core::alert::Silence;
use webmon_core::ports::{Clock, SystemClock};

use super::status::time;
use super::DbArg;

/// Longest silence.
const MAX_SILENCE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Arguments of `webmon alerts silence`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SilenceCommand,
}

#[derive(clap::Subcommand)]
enum SilenceCommand {
    /// Silence a check (`--check`) or every check with a tag (`--tag key=value`).
    Add {
        #[command(flatten)]
        db: DbArg,
        /// The check id.
        #[arg(long, conflicts_with = "tag", required_unless_present = "tag")]
        check: Option<String>,
        /// A tag, `key=value`.
        #[arg(long, value_parser = parse_tag)]
        tag: Option<(String, String)>,
        /// How long, e.g. `2h` (at most 30 days).
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Silences in force (with `--all`, also those that ended).
    List {
        #[command(flatten)]
        db: DbArg,
        /// Also list silences that ended.
        #[arg(long)]
        all: bool,
    },
    /// End a silence now.
    Expire {
        #[command(flatten)]
        db: DbArg,
        /// The silence id (see `list`).
        id: String,
    },
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// One line about a silence.
pub(crate) fn describe(s: &Silence) -> String {
    let target = match (&s.check_id, &s.tag) {
        (Some(c), _) => format!("check {c}"),
        (None, Some((k, v))) => format!("tag {k}={v}"),
        (None, None) => "nothing".into(),
    };
    let comment = if s.comment.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.comment)
    };
    format!("{}  {target} until {}{comment}", s.id, time(s.ends_at_ms))
}

/// Runs `webmon alerts silence`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now_ms();
    match args.command {
        SilenceCommand::Add {
            db,
            check,
            tag,
            duration,
            comment,
        } => {
            anyhow::ensure!(
                !duration.is_zero() && duration <= MAX_SILENCE,
                "--for must be between 1s and 30 days"
            );
            let s = Silence {
                id: format!("s{now}"),
                check_id: check,
                tag,
                starts_at_ms: now,
                ends_at_ms: now + duration.as_millis() as i64,
                comment,
            };
            db.open_writable()?.add_silence(&s).await?;
            println!("added {}", describe(&s));
        }
        SilenceCommand::List { db, all } => {
            let after = if all { i64::MIN } else { now };
            for s in db.open()?.silences(after).await? {
                println!("{}", describe(&s));
            }
        }
        SilenceCommand::Expire { db, id } => {
            if !db.open_writable()?.expire_silence(&id, now).await? {
                anyhow::bail!("no silence {id:?} in force");
            }
            println!("expired {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
