//! Child processes of tests, bounded: a hung binary fails its test instead of holding
//! the run.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `cmd` with its stdout and stderr captured, to completion; kills it and panics
/// (naming `what`) if it has not finished within `limit`.
pub fn output_within(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {what}: {e}"));
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{what} did not finish within {limit:?}");
        }
    }
}
