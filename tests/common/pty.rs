//! Running kiln on a pseudo-terminal: spawn, read the screen bytes, type, and check the tty's
//! mode afterwards.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};

/// A child on a pty.
pub struct Pty {
    /// The child process.
    pub child: Child,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Everything the child printed so far.
    pub seen: Vec<u8>,
    master: std::fs::File,
    slave: OwnedFd,
}

impl Pty {
    /// Spawns `cmd` with a 120x40 pty as its stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Pty {
        let ws = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).unwrap();
        let slave = pty.slave;
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let child = cmd
            .env("TERM", "xterm-256color")
            .stdin(dup(&slave))
            .stdout(dup(&slave))
            .stderr(dup(&slave))
            .spawn()
            .unwrap();
        let mut reader = std::fs::File::from(pty.master.try_clone().unwrap());
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
            child,
            rx,
            seen: Vec::new(),
            master: std::fs::File::from(pty.master),
            slave,
        }
    }

    /// Reads until `needle` has appeared (after byte `from`), or 30 s pass without output.
    pub fn wait_for(&mut self, needle: &[u8], from: usize) -> bool {
        loop {
            if self.seen[from.min(self.seen.len())..]
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
            match self.rx.recv_timeout(Duration::from_secs(30)) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => return false,
            }
        }
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

    /// Waits for the child, killing it after `limit` (a hang is a test failure, not a hung CI).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if rx.recv_timeout(limit).is_err() {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        let status = self.child.wait().ok();
        let _ = tx.send(());
        // Drain what is buffered: the restore sequences were written before exit.
        while let Ok(chunk) = self.rx.try_recv() {
            self.seen.extend(chunk);
        }
        status.filter(|s| std::os::unix::process::ExitStatusExt::signal(s) != Some(9))
    }
}
