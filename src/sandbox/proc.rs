//! What `/proc` says about a box: its listening sockets and its process tree.
//!
//! Here: parsing `/proc/self/net/tcp{,6}` (`sandbox::sockets` asks netlink first; both
//! are asked by the box's helper, which lives in the box's network namespace, so the
//! sockets are the box's own), the descendants of the
//! box's init (by parent links: ancestry, never process groups or sessions, which a
//! process may leave), and which of them holds a socket.
//! Elsewhere: asking for it over the control socket (`sandbox::wire`), choosing a
//! listener to connect to (`Sandbox::wait_listener`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

/// A LISTEN socket held by a process of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// The address as bound: `0.0.0.0:12345`, `[::]:12345`, `127.0.0.1:8000`.
    pub addr: SocketAddr,
    /// A process of the box that holds it, by its id outside the box (the one
    /// `Sandbox::limit_file_size` takes).
    pub pid: u32,
    /// The socket's inode, which names it in `/proc/PID/fd`.
    pub inode: u64,
}

impl Listener {
    /// Where a client inside the box reaches it: the wildcard addresses become
    /// their loopback (`0.0.0.0` → `127.0.0.1`, `::` → `::1`), others stay as bound.
    pub fn loopback(&self) -> SocketAddr {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, self.addr.port())
    }
}

/// The LISTEN sockets of one `/proc/net/tcp` or `tcp6` table: (address, inode).
///
/// A line is `sl local_address rem_address st ... inode ...`, the local address
/// `HEX_IP:HEX_PORT` with the IP in the kernel's byte order (each 32-bit word as the
/// host stores it), `st` `0A` for LISTEN, the inode in column 10.
pub fn parse_tcp_table(text: &str) -> Vec<(SocketAddr, u64)> {
    let mut found = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let (Some(local), Some(&"0A"), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            && let Some((ip, port)) = local.rsplit_once(':')
            && let Ok(port) = u16::from_str_radix(port, 16)
            && let Some(ip) = parse_hex_ip(ip)
            && let Ok(inode) = inode.parse::<u64>()
        {
            found.push((SocketAddr::new(ip, port), inode));
        }
    }
    found
}

/// `0100007F` → 127.0.0.1; 32 hex digits → an IPv6 address. Each 32-bit word is
/// printed as a number read from memory, so its bytes are the host's order.
fn parse_hex_ip(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            let ip = Ipv6Addr::from(bytes);
            // A v4-mapped address is the IPv4 socket a dual-stack server answers on.
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(ip),
            })
        }
        _ => None,
    }
}

/// `/proc/PID/stat`'s parent id: `pid (comm) state ppid ...`, where comm may hold
/// spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_ppid(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process group field of a `/proc/PID/stat` line (`pid (comm) state ppid pgrp
/// ...`; comm may hold spaces and parentheses, so the fields after the last `)`).
pub fn parse_pgrp(stat: &str) -> Option<libc::pid_t> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Every process id `/proc` lists now (none if it cannot be read).
pub fn pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .collect()
}

/// Every process whose chain of parents reaches `root` (not `root` itself).
/// Uses the `children` files (CONFIG_PROC_CHILDREN) when they exist, else one pass
/// over every `/proc/PID/stat`.
pub fn descendants(root: u32) -> Vec<u32> {
    let children_file = format!("/proc/{root}/task/{root}/children");
    if std::path::Path::new(&children_file).exists() {
        let mut found = Vec::new();
        let mut queue = vec![root];
        while let Some(pid) = queue.pop() {
            for child in children_of(pid) {
                if !found.contains(&child) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
        return found;
    }
    let mut parents: HashMap<u32, u32> = HashMap::new();
    for pid in pids() {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some(ppid) = parse_ppid(&stat)
        {
            parents.insert(pid, ppid);
        }
    }
    let mut found: Vec<u32> = parents
        .keys()
        .copied()
        .filter(|&pid| {
            let mut at = pid;
            // Bounded: a loop in the links (a pid reused mid-scan) must not hang us.
            for _ in 0..4096 {
                match parents.get(&at) {
                    Some(&ppid) if ppid == root => return true,
                    Some(&ppid) if ppid > 1 => at = ppid,
                    _ => return false,
                }
            }
            false
        })
        .collect();
    found.sort_unstable();
    found
}

/// The children of every thread of `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            children.extend(
                text.split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    children
}

/// The socket inodes `pid` holds as descriptors.
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            link.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .collect()
}

/// The LISTEN sockets of the calling thread's network namespace that a process of
/// `pids` holds.
pub fn listeners_held_by(pids: &[u32]) -> Vec<Listener> {
    let sockets = super::sockets::listening().unwrap_or_default();
    if sockets.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for &pid in pids {
        for inode in socket_inodes(pid) {
            if let Some(socket) = sockets.iter().find(|s| s.inode == inode)
                && !found.iter().any(|l: &Listener| l.inode == inode)
            {
                found.push(Listener {
                    addr: socket.addr,
                    pid,
                    inode,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3039 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
   2: 0100007F:3039 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:3039 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5252 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:270F 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5353 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listen_lines_of_both_tables_are_parsed_and_others_skipped() {
        assert_eq!(
            parse_tcp_table(TCP),
            vec![
                ("127.0.0.1:12345".parse().unwrap(), 4242),
                ("0.0.0.0:8000".parse().unwrap(), 4343),
            ]
        );
        assert_eq!(
            parse_tcp_table(TCP6),
            vec![
                ("[::]:12345".parse().unwrap(), 5151),
                ("[::1]:80".parse().unwrap(), 5252),
                ("127.0.0.1:9999".parse().unwrap(), 5353),
            ]
        );
        assert!(parse_tcp_table("header only\n").is_empty());
        assert!(parse_tcp_table("h\n 0: zz:zz 0 0A a b c d e f\n").is_empty());
    }

    #[test]
    fn a_wildcard_listener_is_reached_on_its_loopback() {
        let at = |addr: &str| Listener {
            addr: addr.parse().unwrap(),
            pid: 1,
            inode: 1,
        };
        assert_eq!(at("0.0.0.0:1").loopback(), "127.0.0.1:1".parse().unwrap());
        assert_eq!(at("[::]:2").loopback(), "[::1]:2".parse().unwrap());
        assert_eq!(at("127.0.1.1:3").loopback(), "127.0.1.1:3".parse().unwrap());
    }

    #[test]
    fn the_parent_is_read_after_the_last_parenthesis() {
        assert_eq!(parse_ppid("42 (sh) S 7 42 42 0"), Some(7));
        assert_eq!(parse_ppid("42 (a) b (c)) R 9 1"), Some(9));
        assert_eq!(parse_ppid("42 (x"), None);
        assert_eq!(parse_pgrp("42 (sh) S 7 40 42 0"), Some(40));
        assert_eq!(parse_pgrp("42 (a) b (c)) R 9 8 1"), Some(8));
        assert_eq!(parse_pgrp("42 (x"), None);
    }

    #[test]
    fn our_own_listener_and_child_are_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let found = listeners_held_by(&[me]);
        assert!(
            found
                .iter()
                .any(|l| l.addr == listener.local_addr().unwrap() && l.pid == me),
            "{found:?}"
        );
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(descendants(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
