//! Running kiln on a pseudo-terminal the way a shell runs a job: a small session leader owns the
//! pty as its controlling terminal and starts kiln in its own foreground process group, so job
//! control (Ctrl-Z, SIGTSTP) works even when the test suite itself has no terminal (CI, setsid).
//! Every wait has a timeout.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};
use nix::unistd::Pid;

/// How long a wait for output may last.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// kiln on a pty.
pub struct Pty {
    /// The session leader standing in for the shell (it exits with kiln's status).
    pub leader: Child,
    /// kiln itself.
    pub pid: Pid,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Everything kiln printed so far.
    pub seen: Vec<u8>,
    master: std::fs::File,
    /// The reader thread's copy of the master (see [`Pty::hang_up`]).
    reader_fd: std::os::fd::RawFd,
    slave: OwnedFd,
}

impl Pty {
    /// Spawns `cmd` on a 120x40 pty, in the foreground process group of its own session.
    pub fn spawn(mut cmd: Command) -> Pty {
        let ws = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).unwrap();
        // kiln must not inherit the master: a terminal is hung up only when its last master
        // descriptor closes (see `hang_up`).
        nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .unwrap();
        let slave = pty.slave;
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        cmd.env("TERM", "xterm-256color")
            .stdin(dup(&slave))
            .stdout(dup(&slave))
            .stderr(dup(&slave));
        // SAFETY: between fork and exec only async-signal-safe calls run (setsid, ioctl, fork,
        // setpgid, tcsetpgrp, waitpid, _exit).
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                match libc::fork() {
                    -1 => Err(std::io::Error::last_os_error()),
                    0 => {
                        // kiln: its own group, in the foreground of the terminal.
                        libc::setpgid(0, 0);
                        Ok(())
                    }
                    job => {
                        // The leader, like a shell: hand the terminal to the job, wait for it,
                        // exit with its status. It never execs, so it closes its copy of the
                        // pipe on which the test's spawn() waits for the exec.
                        for fd in 3..4096 {
                            libc::close(fd);
                        }
                        libc::setpgid(job, job);
                        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                        libc::tcsetpgrp(0, job);
                        let mut status = 0;
                        loop {
                            let r = libc::waitpid(job, &mut status, 0);
                            if r == job && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
                                break;
                            }
                            if r == -1 && *libc::__errno_location() != libc::EINTR {
                                libc::_exit(125);
                            }
                        }
                        if libc::WIFEXITED(status) {
                            libc::_exit(libc::WEXITSTATUS(status));
                        }
                        libc::_exit(128 + libc::WTERMSIG(status));
                    }
                }
            });
        }
        let leader = cmd.spawn().unwrap();
        let pid = job_of(leader.id());
        let mut reader = std::fs::File::from(pty.master.try_clone().unwrap());
        let reader_fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            leader,
            pid,
            rx,
            seen: Vec::new(),
            master: std::fs::File::from(pty.master),
            reader_fd,
            slave,
        }
    }

    /// Reads until `needle` has appeared (after byte `from`), at most [`OUTPUT_TIMEOUT`] (a
    /// screen that keeps redrawing without it is a failure, not a wait forever).
    pub fn wait_for(&mut self, needle: &[u8], from: usize) -> bool {
        let deadline = Instant::now() + OUTPUT_TIMEOUT;
        loop {
            if self.saw_since(from, needle) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => return false,
            }
        }
    }

    /// Like [`Pty::wait_for`], at most `limit`.
    pub fn wait_for_within(&mut self, needle: &[u8], from: usize, limit: Duration) -> bool {
        self.wait_for_any_within(&[needle], from, limit)
    }

    /// Waits until any of `needles` has appeared after byte `from`, at most `limit`.
    pub fn wait_for_any_within(&mut self, needles: &[&[u8]], from: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if needles.iter().any(|n| self.saw_since(from, n)) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => return false,
            }
        }
    }

    /// Hangs the terminal up, as a closed terminal window or a dropped SSH session does: every
    /// copy of the master side is closed (replaced by /dev/null; a byte written on the slave
    /// side wakes the reader thread so its read lets go of the master), so kiln's reads fail.
    pub fn hang_up(&mut self) {
        use std::os::fd::AsRawFd;
        let null = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: dup2 onto descriptors this Pty owns; the reader thread then reads /dev/null.
        unsafe {
            assert!(libc::dup2(null.as_raw_fd(), self.master.as_raw_fd()) >= 0);
            assert!(libc::dup2(null.as_raw_fd(), self.reader_fd) >= 0);
        }
        let _ = nix::unistd::write(&self.slave, b"\0");
    }

    /// Types bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// True when the tty is in cooked mode (ICANON and ECHO on).
    pub fn cooked(&self) -> bool {
        tcgetattr(self.slave.as_fd())
            .unwrap()
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }

    /// The output since byte `from`, for messages.
    pub fn text_since(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.seen[from.min(self.seen.len())..]).into_owned()
    }

    /// True when the output since `from` contains `needle`.
    pub fn saw_since(&self, from: usize, needle: &[u8]) -> bool {
        self.seen[from.min(self.seen.len())..]
            .windows(needle.len())
            .any(|w| w == needle)
    }

    /// Waits until kiln is stopped (job control), at most `limit`.
    pub fn wait_stopped(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if process_state(self.pid) == Some('T') {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends a signal to kiln.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid, sig).unwrap();
    }

    /// Waits for kiln to exit (through its leader), killing both after `limit` (a hang is a test
    /// failure, not a hung CI). None when it had to be killed.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let status = super::wait_until(&mut self.leader, limit);
        if status.is_none() {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = self.leader.kill();
            let _ = self.leader.wait();
        }
        // Drain what is buffered: the restore sequences were written before exit.
        while let Ok(chunk) = self.rx.try_recv() {
            self.seen.extend(chunk);
        }
        status
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.leader.try_wait().ok().flatten().is_none() {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = self.leader.kill();
            let _ = self.leader.wait();
        }
    }
}

/// The job the leader started: its only child (found within a few seconds).
fn job_of(leader: u32) -> Pid {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{leader}/task/{leader}/children"))
            .unwrap_or_default();
        if let Some(pid) = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            return Pid::from_raw(pid);
        }
        assert!(Instant::now() < deadline, "the pty leader started no job");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The state letter of a process (R, S, T, Z, ...).
fn process_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}
