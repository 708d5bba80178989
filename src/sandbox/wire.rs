//! The control socket between the grader and a box's helper: messages and descriptors.
//!
//! Here: the requests and replies (one JSON value per `SOCK_SEQPACKET` message, so a
//! message is never split or merged), sending a descriptor with `SCM_RIGHTS`, and
//! receiving with a deadline. Elsewhere: what the helper does with a request
//! (`sandbox::init`), what the grader makes of a reply (`Sandbox`).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};

use super::proc::Listener;
use super::{Limits, Protections};

/// The largest message either side sends (a spec with a long environment).
const MAX_MESSAGE: usize = 256 << 10;

/// What the helper is told to run, sent once as the first request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitSpec {
    /// Run as `sh -c COMMAND`.
    pub command: String,
    /// The box's root: `work` and `tmp` are in it. Removed by the helper if the
    /// grader dies without stopping the box.
    pub root: PathBuf,
    /// The private copy: the command's working directory, HOME, and writable.
    pub work: PathBuf,
    /// The box's temporary directory: `/tmp` inside the box where a mount namespace
    /// allows, else only `TMPDIR`.
    pub tmp: PathBuf,
    /// The whole environment beyond PATH, HOME, LANG and TMPDIR.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// Extra paths the box may read and execute (an interpreter outside `/usr`).
    pub read_only: Vec<PathBuf>,
    /// Whether to try the namespaces at all (`false`: Landlock and rlimits only).
    pub namespaces: bool,
}

/// The grader's requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Start(Box<InitSpec>),
    /// Connect to `addr` inside the box; the reply carries the connected socket.
    Connect {
        addr: SocketAddr,
        timeout_ms: u64,
    },
    /// The LISTEN sockets held by the box's processes.
    Listeners,
    /// Whether the command (`sh`) has exited, and how.
    Status,
    /// RLIMIT_FSIZE on one process of the box (and what it starts from then on).
    LimitFileSize {
        pid: u32,
        bytes: u64,
    },
    /// Kill every process of the box, reap them, and end the helper.
    Stop,
}

/// The helper's replies, one per request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The command runs; a pidfd of the box's init comes with it where the kernel has them.
    Started {
        init_pid: u32,
        command_pid: u32,
        protections: Protections,
    },
    /// The connected socket comes with it.
    Connected,
    Listeners(Vec<Listener>),
    /// The command's raw wait status once it has exited.
    Status {
        command: Option<i32>,
    },
    Done,
    /// A request failed: the OS error where there is one, and what was being done.
    Failed {
        errno: Option<i32>,
        message: String,
    },
}

impl Reply {
    pub fn failed(what: &str, error: &io::Error) -> Reply {
        Reply::Failed {
            errno: error.raw_os_error(),
            message: format!("{what}: {error}"),
        }
    }
}

/// Sends `message` with `fd` (if any) attached.
pub fn send<T: Serialize>(
    socket: BorrowedFd<'_>,
    message: &T,
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::other("control message too long"));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd];
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(&bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Receives one message and the descriptor that came with it, waiting until
/// `deadline` (`None`: as long as it takes). The end of the stream is
/// `UnexpectedEof`; a deadline passed is `TimedOut`.
pub fn recv<T: for<'de> Deserialize<'de>>(
    socket: BorrowedFd<'_>,
    deadline: Option<Instant>,
) -> io::Result<(T, Option<OwnedFd>)> {
    if let Some(deadline) = deadline {
        wait_readable(socket, deadline)?;
    }
    // The message's length first (a peek that truncates), then a buffer that fits it:
    // a buffer of MAX_MESSAGE for each message would be zeroed and faulted in again
    // for every poll of a starting server.
    let length = loop {
        match rustix::net::recv(socket, &mut [0u8; 0], RecvFlags::PEEK | RecvFlags::TRUNC) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?.1,
        }
    };
    let mut bytes = vec![0u8; length.clamp(1, MAX_MESSAGE)];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut bytes)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    let mut fd = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for received in fds {
                fd.get_or_insert(received);
            }
        }
    }
    if got.bytes == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let value = serde_json::from_slice(&bytes[..got.bytes]).map_err(io::Error::other)?;
    Ok((value, fd))
}

fn wait_readable(socket: BorrowedFd<'_>, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let timeout =
            Timespec::try_from(left.min(Duration::from_secs(3600))).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&socket, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_connected_socket_crosses_with_its_reply() {
        let (a, b) = pair();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        send(a.as_fd(), &Reply::Connected, Some(stream.as_fd())).unwrap();
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(5);
        let (reply, fd): (Reply, _) = recv(b.as_fd(), Some(deadline)).unwrap();
        assert!(matches!(reply, Reply::Connected));
        let mut passed = std::net::TcpStream::from(fd.expect("the socket came along"));
        passed.write_all(b"hi").unwrap();
        let (mut served, _) = listener.accept().unwrap();
        let mut got = [0u8; 2];
        served.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }

    #[test]
    fn a_silent_peer_times_out_and_a_closed_one_is_eof() {
        let (a, b) = pair();
        let soon = Instant::now() + Duration::from_millis(30);
        let err = recv::<Reply>(b.as_fd(), Some(soon)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(a);
        let err = recv::<Reply>(b.as_fd(), None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
