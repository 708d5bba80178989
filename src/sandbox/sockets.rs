//! The TCP LISTEN sockets of the calling thread's network namespace.
//!
//! Here: asking the kernel through `sock_diag` (netlink) for LISTEN sockets only,
//! which walks the listening hash and nothing else; `/proc/net/tcp{,6}` as the
//! fallback where netlink is refused. Reading `/proc/net/tcp` walks the whole
//! established hash (262,144 buckets on an ordinary machine, shared by every
//! namespace) on each read: about 3.4 ms of kernel time per poll of both tables,
//! against 0.05 ms for the netlink dump (bench/SANDBOX.md), and port discovery polls
//! it every few milliseconds in every box.
//! Elsewhere: which process holds a socket (`sandbox::proc`), whose listener it is
//! (`Sandbox::wait_listener` in a box, `grading::target::unboxed` without one).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::{Socket, protocols::NETLINK_SOCK_DIAG};

use super::proc::parse_tcp_table;

/// The longest pause between two looks for a server's listener while it starts: a
/// look costs about 0.05 ms of kernel time, and a start found 10 ms late is 10 ms
/// of a transcript's run.
pub const LISTEN_POLL: Duration = Duration::from_millis(10);

/// At most this many sockets are kept from one dump: a box's process and file
/// limits keep it far below; past it the rest is read and dropped.
const MAX_SOCKETS: usize = 4096;

/// A LISTEN socket of this network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSocket {
    /// As bound; a v4-mapped IPv6 address is given as the IPv4 one.
    pub addr: SocketAddr,
    /// The socket's inode, which names it in `/proc/PID/fd`.
    pub inode: u64,
    /// For an IPv6 socket, whether it takes IPv6 only (`IPV6_V6ONLY`): `None` where
    /// only `/proc/net/tcp6` was read, which does not say.
    pub v6only: Option<bool>,
}

/// The LISTEN sockets of the caller's network namespace, or `None` when neither
/// netlink nor `/proc/net/tcp` answers.
pub fn listening() -> Option<Vec<ListenSocket>> {
    match diag() {
        Ok(found) => Some(found),
        Err(_) => from_proc(),
    }
}

/// Both families through `sock_diag`.
fn diag() -> io::Result<Vec<ListenSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
    // The kernel answers a dump at once; a reply that never comes must not hang the
    // box's helper.
    rustix::net::sockopt::set_socket_timeout(
        &socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(1)),
    )?;
    let mut found = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    for family in [AF_INET, AF_INET6] {
        dump(&socket, family, &mut buffer, &mut found)?;
    }
    Ok(found)
}

/// One `inet_diag` dump of `family`'s TCP LISTEN sockets, appended to `found`, read
/// through `buffer`.
fn dump(
    socket: &Socket,
    family: u8,
    buffer: &mut [u8],
    found: &mut Vec<ListenSocket>,
) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::LISTEN,
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut request = vec![0; packet.buffer_len()];
    packet.serialize(&mut request);
    socket.send(&request, 0)?;

    let bad = |e: netlink_packet_core::DecodeError| io::Error::new(io::ErrorKind::InvalidData, e);
    loop {
        let size = socket.recv(&mut &mut buffer[..], 0)?;
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: empty reply",
            ));
        }
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buffer[offset..size])
                .map_err(bad)?;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response))
                    if found.len() < MAX_SOCKETS =>
                {
                    let v6only = (family == AF_INET6).then(|| {
                        response
                            .nlas
                            .iter()
                            .any(|nla| matches!(nla, Nla::SkV6Only(true)))
                    });
                    let id = &response.header.socket_id;
                    found.push(ListenSocket {
                        addr: SocketAddr::new(unmapped(id.source_address), id.source_port),
                        inode: u64::from(response.header.inode),
                        v6only,
                    });
                }
                // A dump cut short says so in its end: then `/proc` answers instead.
                NetlinkPayload::Done(done) if done.code != 0 => {
                    return Err(io::Error::other(format!(
                        "sock_diag: the dump ended with error {}",
                        done.code
                    )));
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    return Err(io::Error::other(format!("sock_diag: {e}")));
                }
                _ => {}
            }
            // Messages start on 4-byte boundaries (NLMSG_ALIGN); a length of zero
            // is refused by `deserialize`.
            offset += (message.header.length as usize).max(1).next_multiple_of(4);
        }
    }
}

/// `::ffff:127.0.0.1` → `127.0.0.1`: the IPv4 socket a dual-stack server answers on.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        ip => ip,
    }
}

/// `/proc/self/net/tcp{,6}`, where netlink is refused; `None` if neither reads.
fn from_proc() -> Option<Vec<ListenSocket>> {
    let mut found = Vec::new();
    let mut read = false;
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            read = true;
            found.extend(
                parse_tcp_table(&text)
                    .into_iter()
                    .map(|(addr, inode)| ListenSocket {
                        addr,
                        inode,
                        v6only: None,
                    }),
            );
        }
    }
    read.then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn inode_of(fd: &impl AsRawFd) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let link = link.to_str().unwrap();
        link["socket:[".len()..link.len() - 1].parse().unwrap()
    }

    #[test]
    fn netlink_and_proc_find_the_same_listeners_with_their_inodes() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut want = vec![(v4.local_addr().unwrap(), inode_of(&v4), None, None)];
        // IPv6, where this machine has it (a container may not): an IPv6-only
        // listener and a dual-stack one.
        let listen_v6 = |addr: &str, only: bool| -> Option<socket2::Socket> {
            let s =
                socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).ok()?;
            s.set_only_v6(only).ok()?;
            s.bind(&addr.parse::<SocketAddr>().unwrap().into()).ok()?;
            s.listen(1).ok()?;
            Some(s)
        };
        let v6 = listen_v6("[::1]:0", true);
        let dual = listen_v6("[::]:0", false);
        for (socket, only) in [(&v6, true), (&dual, false)] {
            if let Some(s) = socket {
                let addr = s.local_addr().unwrap().as_socket().unwrap();
                want.push((addr, inode_of(s), Some(only), None));
            }
        }

        let diag = diag().expect("sock_diag answers on Linux");
        let proc = from_proc().expect("/proc/net/tcp reads");
        for (addr, inode, by_diag, by_proc) in want {
            let one = |found: &[ListenSocket]| found.iter().find(|s| s.inode == inode).copied();
            assert_eq!(
                one(&diag),
                Some(ListenSocket {
                    addr,
                    inode,
                    v6only: by_diag
                }),
                "{diag:?}"
            );
            assert_eq!(
                one(&proc),
                Some(ListenSocket {
                    addr,
                    inode,
                    v6only: by_proc
                }),
                "{proc:?}"
            );
        }
        // A connected socket is not listed: LISTEN only.
        let client = std::net::TcpStream::connect(v4.local_addr().unwrap()).unwrap();
        let (accepted, _) = v4.accept().unwrap();
        let listed = listening().unwrap();
        assert!(!listed.iter().any(|s| s.inode == inode_of(&client)));
        assert!(!listed.iter().any(|s| s.inode == inode_of(&accepted)));
    }

    #[test]
    fn a_mapped_address_is_its_ipv4_one() {
        assert_eq!(
            unmapped("::ffff:127.0.0.1".parse().unwrap()),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            unmapped("::1".parse().unwrap()),
            "::1".parse::<IpAddr>().unwrap()
        );
    }
}
