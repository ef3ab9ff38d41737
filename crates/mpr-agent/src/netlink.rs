//! Network changes, from the kernel: a netlink route socket subscribed to
//! link, address and route events (IPv4 and IPv6). The messages are not
//! read for their content; each burst of them is only a wake-up, after
//! which the agent looks at its connections at once instead of at the next
//! tick.

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// `RTMGRP_LINK`: links that appear, go up or down.
const RTMGRP_LINK: u32 = 0x1;
/// `RTMGRP_IPV4_IFADDR`: IPv4 addresses added or removed.
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
/// `RTMGRP_IPV4_ROUTE`: IPv4 routes.
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
/// `RTMGRP_IPV6_IFADDR`: IPv6 addresses.
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
/// `RTMGRP_IPV6_ROUTE`: IPv6 routes.
const RTMGRP_IPV6_ROUTE: u32 = 0x400;

/// How long a burst of events is gathered into one wake-up (bringing an
/// interface up sends a dozen messages).
const SETTLE: Duration = Duration::from_millis(100);

/// A socket that receives the kernel's link, address and route events.
fn subscribe() -> std::io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE
    )?;
    let groups = RTMGRP_LINK
        | RTMGRP_IPV4_IFADDR
        | RTMGRP_IPV4_ROUTE
        | RTMGRP_IPV6_IFADDR
        | RTMGRP_IPV6_ROUTE;
    rustix::net::bind(&fd, &SocketAddrNetlink::new(0, groups))?;
    Ok(fd)
}

/// Calls `changed` on a thread of its own after every burst of network
/// changes, for as long as the process lives. Fails when the socket cannot
/// be made (the agent then only looks at its ticks).
pub fn watch(changed: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let fd = subscribe()?;
    std::thread::Builder::new()
        .name("mpr-agent-netlink".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // ENOBUFS (the kernel dropped messages) is a change too.
                if let Err(e) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())
                    && e != rustix::io::Errno::NOBUFS
                    && e != rustix::io::Errno::INTR
                {
                    return;
                }
                std::thread::sleep(SETTLE);
                while rustix::net::recv(&fd, &mut buf[..], RecvFlags::DONTWAIT).is_ok() {}
                changed();
            }
        })?;
    Ok(())
}
