//! Subcommands of the `xero-sync` binary besides serving. `main` calls [`run_cli`] first.

mod sync;

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};

use tracing_subscriber::EnvFilter;

use crate::crypto::hash_password;

const USAGE: &str = "usage: xero-sync                 serve Xero and Zoho (configuration: README, \"Configuration\";
                                 the demo against simulators is xero-sync-demo, scripts/run.sh)
       xero-sync hash-password   read a password on stdin, print its argon2id hash
                                 for XERO_SYNC_ADMIN_PASSWORD_HASH
       xero-sync sync [--all | --since-last-run | --days N] [--dry-run] [--json]
                                 sync products to Xero now, in this process (`xero-sync sync --help`)
       xero-sync schedule [--every 1h|2h|4h|6h|12h|24h | --off]
                                 show or set the automatic sync the service runs";

/// An error and its causes in one line, for the binaries' messages.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    crate::describe(error)
}

/// Runs the subcommand named in `args` (the process arguments, program name first) and returns its exit
/// code, or `None` when there is none and the service should start.
pub async fn run_cli(args: &[String]) -> Option<ExitCode> {
    let rest = args.get(2..).unwrap_or_default();
    match args.get(1).map(String::as_str) {
        None => None,
        Some("hash-password") if args.len() == 2 => Some(report(hash_password_command())),
        Some("sync") if rest.iter().any(|a| a == "--help" || a == "-h") => Some(usage(sync::SYNC_USAGE, true)),
        Some("sync") => Some(match sync::parse_sync(rest) {
            Ok(parsed) => {
                logs();
                sync::sync(parsed).await
            }
            Err(error) => {
                eprintln!("xero-sync sync: {error}");
                usage(sync::SYNC_USAGE, false)
            }
        }),
        Some("schedule") if rest.iter().any(|a| a == "--help" || a == "-h") => Some(usage(sync::SCHEDULE_USAGE, true)),
        Some("schedule") => Some(match sync::parse_schedule(rest) {
            Ok(change) => {
                logs();
                sync::schedule(change).await
            }
            Err(error) => {
                eprintln!("xero-sync schedule: {error}");
                usage(sync::SCHEDULE_USAGE, false)
            }
        }),
        Some("help" | "--help" | "-h") => Some(usage(USAGE, true)),
        Some(_) => Some(usage(USAGE, false)),
    }
}

/// Prints a usage: on stdout when asked for (success), on stderr after a mistake (status 2).
fn usage(text: &str, asked: bool) -> ExitCode {
    if asked {
        println!("{text}");
        ExitCode::SUCCESS
    } else {
        eprintln!("{text}");
        ExitCode::from(2)
    }
}

/// The subcommands log errors only (to stderr, under the progress display); `RUST_LOG` says otherwise.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error")))
        .with_writer(std::io::stderr)
        .try_init();
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xero-sync: {message}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password_command() -> Result<(), String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt("Admin password: ")?;
        if prompt("Again: ")? != first {
            return Err("the passwords differ".into());
        }
        first
    } else {
        read_line(&mut stdin.lock())?
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    let hash = hash_password(&password).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(())
}

/// Asks on stderr with the terminal's echo off (through `stty`, so no terminal crate is needed).
fn prompt(question: &str) -> Result<String, String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let echo_off = stty("-echo");
    let line = read_line(&mut std::io::stdin().lock());
    if echo_off {
        stty("echo");
        eprintln!();
    }
    line
}

fn stty(setting: &str) -> bool {
    Command::new("stty").arg(setting).stdin(Stdio::inherit()).status().is_ok_and(|status| status.success())
}

/// One line without its line ending (a password may contain spaces, so nothing else is trimmed).
fn read_line(input: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[tokio::test]
    async fn no_subcommand_means_serve_and_unknown_ones_are_refused() {
        assert!(run_cli(&args(&["xero-sync"])).await.is_none());
        assert_eq!(run_cli(&args(&["xero-sync", "--help"])).await, Some(ExitCode::SUCCESS));
        assert_eq!(run_cli(&args(&["xero-sync", "hash-passwd"])).await, Some(ExitCode::from(2)));
        assert_eq!(run_cli(&args(&["xero-sync", "hash-password", "extra"])).await, Some(ExitCode::from(2)));
        assert_eq!(run_cli(&args(&["xero-sync", "sync", "--days", "x"])).await, Some(ExitCode::from(2)));
        assert_eq!(run_cli(&args(&["xero-sync", "sync", "--help"])).await, Some(ExitCode::SUCCESS));
        assert_eq!(run_cli(&args(&["xero-sync", "schedule", "--every", "5h"])).await, Some(ExitCode::from(2)));
    }

    #[test]
    fn read_line_keeps_inner_and_outer_spaces_but_not_the_line_ending() {
        let mut input = std::io::Cursor::new(" correct horse \r\nnext");
        assert_eq!(read_line(&mut input).expect("line"), " correct horse ");
        assert_eq!(read_line(&mut std::io::Cursor::new("")).expect("empty"), "");
    }
}
