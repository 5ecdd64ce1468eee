//! systemd's notification protocol: READY, WATCHDOG, STOPPING over
//! `$NOTIFY_SOCKET`, never blocking.

use std::time::Duration;

/// The watchdog period systemd asks for (`WatchdogSec=`), if it is meant
/// for this process.
pub(super) fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    (for_us && usec > 0).then(|| Duration::from_micros(usec))
}

/// Tells systemd `state` over `$NOTIFY_SOCKET`, if there is one. Never
/// blocks: a service manager that does not read its socket costs a lost
/// notification, not a stuck daemon.
pub(super) fn systemd_notify(state: &str) {
    use std::os::unix::net::UnixDatagram;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        socket.set_nonblocking(true)?;
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)
        } else {
            socket.send_to(state.as_bytes(), &path)
        }
    });
    if let Err(e) = sent {
        tracing::debug!("systemd notification {state:?} not sent: {e}");
    }
}
