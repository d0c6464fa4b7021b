//! Name resolution on the async runtime (hickory), with a timeout per query.
//!
//! The system resolver (`getaddrinfo`) blocks a thread for as long as a name server takes
//! to answer, so a black-holed name server could tie up the runtime's blocking pool and
//! stall unrelated probes. hickory resolves on the runtime itself, each query bounded by
//! [`ProbeOptions::dns_query_timeout`](super::ProbeOptions::dns_query_timeout).
//!
//! Configuration: `/etc/resolv.conf` (name servers, search domains, `ndots`) unless the
//! operator names the servers ([`ProbeOptions::name_servers`](super::ProbeOptions::name_servers));
//! the hosts file and `localhost` work either way. IP literals never reach the resolver.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;

/// Default timeout of one DNS query.
pub const DEFAULT_DNS_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The engine's resolver.
pub(crate) struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// Builds the resolver: `servers` when given, else the system configuration.
    pub(crate) fn new(servers: &[SocketAddr], query_timeout: Duration) -> Self {
        let (config, mut opts) = if servers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "failed to read the system DNS configuration; only the hosts file and localhost resolve");
                    (ResolverConfig::new(), ResolverOpts::default())
                }
            }
        } else {
            let mut config = ResolverConfig::new();
            for addr in servers {
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
            }
            (config, ResolverOpts::default())
        };
        opts.timeout = query_timeout;
        opts.attempts = 1;
        opts.use_hosts_file = ResolveHosts::Always;
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(opts)
                .build();
        Self { resolver }
    }

    /// The addresses of `name`, or a message saying why there are none.
    pub(crate) async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        match self.resolver.lookup_ip(name).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) => Err(e.to_string()),
        }
    }
}
