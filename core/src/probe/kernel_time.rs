//! Kernel receive timestamps on TCP sockets (Linux).
//!
//! With `SO_TIMESTAMPING` set to `SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE`,
//! the kernel stamps every incoming packet when the network stack receives it and TCP
//! hands the stamp of the last packet a `recvmsg` copied from back as an
//! `SCM_TIMESTAMPING` control message (`struct scm_timestamping`, `ts[0]`, on the
//! `CLOCK_REALTIME` scale). Unlike an `Instant` taken when a task gets round to reading,
//! the stamp does not move when the runtime is busy: it says when the bytes arrived, not
//! when we looked.
//!
//! [`ClockMap`] carries kernel stamps over to the [`Instant`] timeline (`CLOCK_MONOTONIC`):
//! both clocks advance at the same (NTP-disciplined) rate, so their offset is constant
//! unless the wall clock is stepped. The offset is sampled once per connection as the
//! tightest of three `Instant` / `CLOCK_REALTIME` / `Instant` readings, taking the
//! midpoint, so the mapping error is at most half that reading's width (typically well
//! under a microsecond; [`ClockMap::error_bound`]). A wall-clock step while a connection
//! is open would shift that connection's stamps; callers reject stamps that land in the
//! future or before the connection existed, and fall back to user-space times.
//!
//! On other systems nothing is enabled and every read falls back to user-space times.
//! Public so the benchmark's target can start its injected delays at the request's
//! arrival rather than when it got round to reading it.

use std::time::{Duration, Instant};

/// Maps `CLOCK_REALTIME` readings onto the [`Instant`] timeline.
#[derive(Debug, Clone, Copy)]
pub struct ClockMap {
    /// An instant and the wall-clock time read at (about) that instant.
    at: Instant,
    realtime_ns: i128,
    /// Half the width of the reading the pair came from.
    error: Duration,
}

impl ClockMap {
    /// Samples the offset between the two clocks.
    pub fn sample() -> Self {
        let mut best: Option<Self> = None;
        for _ in 0..3 {
            let before = Instant::now();
            let realtime_ns = realtime_ns();
            let after = Instant::now();
            let width = after - before;
            let pair = Self {
                at: before + width / 2,
                realtime_ns,
                error: width / 2,
            };
            if best.is_none_or(|b| pair.error < b.error) {
                best = Some(pair);
            }
        }
        best.expect("three samples taken")
    }

    /// The most a mapped stamp can be off by (absent a wall-clock step).
    pub fn error_bound(&self) -> Duration {
        self.error
    }

    /// The instant of a `CLOCK_REALTIME` stamp in nanoseconds since the epoch.
    pub fn to_instant(self, realtime_ns: i128) -> Option<Instant> {
        let delta = realtime_ns - self.realtime_ns;
        let magnitude = Duration::from_nanos(u64::try_from(delta.unsigned_abs()).ok()?);
        if delta >= 0 {
            self.at.checked_add(magnitude)
        } else {
            self.at.checked_sub(magnitude)
        }
    }
}

fn realtime_ns() -> i128 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes only the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    }
    #[cfg(not(unix))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::mem::{size_of, MaybeUninit};
    use std::os::fd::RawFd;

    /// `struct scm_timestamping`: software, (deprecated), hardware stamps.
    type ScmTimestamping = [libc::timespec; 3];

    /// Control buffer for one `SCM_TIMESTAMPING` message, with room to spare; `u64`s for
    /// `cmsghdr` alignment.
    const CONTROL_WORDS: usize = 16;

    /// Keeps the kernel's packet stamping switched on for the life of the process.
    ///
    /// The kernel stamps packets only while some socket asks for stamps, and switching
    /// that on is deferred to a work queue: packets that arrive in between carry no
    /// stamp. Probe sockets come and go, so without a socket that stays open the first
    /// packets of a probe after a quiet spell would fall back to user-space times. One
    /// UDP socket, never read, holds stamping on; call this early (the prober does when
    /// it is built). Returns whether stamping could be requested.
    pub fn hold_enabled() -> bool {
        use std::sync::OnceLock;
        static HOLDER: OnceLock<Option<std::net::UdpSocket>> = OnceLock::new();
        HOLDER
            .get_or_init(|| {
                use std::os::fd::AsRawFd;
                let socket = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
                enable_on(socket.as_raw_fd()).then_some(socket)
            })
            .is_some()
    }

    /// Asks the kernel to stamp received packets on `fd` and report the stamps.
    pub fn enable(fd: RawFd) -> bool {
        hold_enabled();
        enable_on(fd)
    }

    fn enable_on(fd: RawFd) -> bool {
        let flags: libc::c_uint =
            libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE;
        // SAFETY: a plain setsockopt with a c_uint option value we own.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPING,
                (&flags as *const libc::c_uint).cast(),
                size_of::<libc::c_uint>() as libc::socklen_t,
            )
        };
        rc == 0
    }

    /// One non-blocking `recvmsg` into `buf`: bytes read and the kernel's receive stamp
    /// (nanoseconds since the epoch) when it gave one.
    pub fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<i128>)> {
        let mut control = [0u64; CONTROL_WORDS];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: zeroed msghdr is valid; every pointer set below outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: recvmsg writes at most iov_len bytes into buf and msg_controllen bytes
        // into control, both owned here.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut stamp = None;
        // SAFETY: the CMSG_* helpers walk the control buffer the kernel just filled,
        // bounded by msg_controllen; the payload is read unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let header = &*cmsg;
                if header.cmsg_level == libc::SOL_SOCKET
                    && header.cmsg_type == libc::SCM_TIMESTAMPING
                    && header.cmsg_len as usize
                        >= libc::CMSG_LEN(size_of::<ScmTimestamping>() as u32) as usize
                {
                    let ts: ScmTimestamping =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    let software = ts[0];
                    if software.tv_sec != 0 || software.tv_nsec != 0 {
                        stamp = Some(
                            software.tv_sec as i128 * 1_000_000_000 + software.tv_nsec as i128,
                        );
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, stamp))
    }
}

#[cfg(target_os = "linux")]
pub use linux::{enable, hold_enabled, recv};

/// Stamping is not available here; nothing to hold.
#[cfg(not(target_os = "linux"))]
pub fn hold_enabled() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_map_round_trips_now() {
        let map = ClockMap::sample();
        assert!(map.error_bound() < Duration::from_millis(1));
        let mapped = map.to_instant(realtime_ns()).expect("in range");
        let now = Instant::now();
        let gap = if mapped > now {
            mapped - now
        } else {
            now - mapped
        };
        assert!(gap < Duration::from_millis(5), "gap {gap:?}");
    }

    #[test]
    fn clock_map_goes_backwards() {
        let map = ClockMap::sample();
        let earlier = map
            .to_instant(map.realtime_ns - 1_000_000)
            .expect("in range");
        assert_eq!(map.at - earlier, Duration::from_millis(1));
    }
}
