//! A tiny HTTP(S) target server for the demo (`webmon run --demo-target`), the tests and
//! the benchmarks.
//!
//! TODO(engine): implement. Planned API:
//! - `TargetServer::start(addr: SocketAddr) -> io::Result<TargetServer>` (plain HTTP)
//! - `TargetServer::start_tls(addr, cert_chain_pem, key_pem) -> io::Result<TargetServer>`
//! - `TargetServer::addr()`, `TargetServer::url(path) -> String`, dropped = stopped.
//! Routes: `/ok`, `/delay/{ms}`, `/status/{code}`, `/redirect/{n}`, `/redirect-to?url=`,
//! `/hang`, `/trickle/{bytes}/{ms_per_byte}`, `/bytes/{n}`, `/gzip`, `/chunked`, `/json`.
