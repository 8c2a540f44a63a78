//! One simulated node's SSH daemon (a russh server): a listener on 127.0.0.1 with the node's
//! host key, public-key authentication of `ubuntu` with the one authorized key (password and
//! keyboard-interactive refused), session channels whose `exec` requests are answered by the
//! [`VirtualNode`] (stdout, stderr, exit-status, EOF, close). Bounded: connections at once per
//! node, channels at once per connection, idle connections dropped; stopped by the simulator's
//! stop signal, which disconnects the sessions still open.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::content::VirtualNode;

/// The login the nodes accept (Ubuntu cloud images' default user).
pub const USER: &str = "ubuntu";
/// Connections one node serves at once; more are dropped (as sshd's MaxStartups would).
const MAX_CONNECTIONS: usize = 64;
/// Channels one connection may have open at once.
const MAX_CHANNELS: usize = 32;
/// A connection with no traffic for this long is dropped.
const IDLE: Duration = Duration::from_secs(120);
/// The client's SSH identification line must come within this.
const GREETING: Duration = Duration::from_secs(10);

/// russh's server handler for one connection.
struct Connection {
    node: Arc<VirtualNode>,
    authorized: Arc<PublicKey>,
    open: HashSet<ChannelId>,
}

fn publickey_only() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

impl Connection {
    fn allowed(&self, user: &str, key: &PublicKey) -> bool {
        user == USER && key.key_data() == self.authorized.key_data()
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(publickey_only())
    }

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        Ok(publickey_only())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.allowed(user, offer.public_key) {
            Ok(Auth::Accept)
        } else {
            Ok(publickey_only())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.allowed(user, key.public_key) {
            Ok(Auth::Accept)
        } else {
            Ok(publickey_only())
        }
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        Ok(publickey_only())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The channel's own message queue is not read: it is dropped, so russh never waits on it.
        if self.open.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
        } else {
            self.open.insert(channel.id());
            reply.accept().await;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.open.remove(&channel);
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let reply = self.node.run(&String::from_utf8_lossy(data));
        session.channel_success(channel)?;
        if !reply.stdout.is_empty() {
            session.data(channel, reply.stdout)?;
        }
        if !reply.stderr.is_empty() {
            session.extended_data(channel, 1, reply.stderr)?;
        }
        session.exit_status_request(channel, reply.exit)?;
        session.eof(channel)?;
        session.close(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let text = format!(
            "{}: a kiln sim node has no interactive shell; give a command (e.g. `rke2 --version`)\r\n",
            self.node.hostname
        );
        session.extended_data(channel, 1, text.into_bytes())?;
        session.exit_status_request(channel, 1)?;
        session.eof(channel)?;
        session.close(channel)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }
}

/// A node's daemon, listening.
pub struct Daemon {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its accept loop (ends on the stop signal, after disconnecting its sessions).
    pub task: JoinHandle<()>,
}

/// Binds 127.0.0.1:0 for `node` and serves it until `stop` turns true.
pub async fn listen(
    node: Arc<VirtualNode>,
    host_key: PrivateKey,
    authorized: Arc<PublicKey>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<Daemon> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-kiln_sim_node".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(50),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        max_auth_attempts: 6,
        inactivity_timeout: Some(IDLE),
        nodelay: true,
        ..Default::default()
    });
    let task = tokio::spawn(accept_loop(listener, config, node, authorized, stop));
    Ok(Daemon { addr, task })
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    node: Arc<VirtualNode>,
    authorized: Arc<PublicKey>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        while sessions.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        if sessions.len() >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let handler = Connection {
            node: node.clone(),
            authorized: authorized.clone(),
            open: HashSet::new(),
        };
        sessions.spawn(serve(stream, config.clone(), handler, stop.clone()));
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
}

/// One connection, until the client leaves, it idles out, or the simulator stops.
async fn serve(
    stream: tokio::net::TcpStream,
    config: Arc<russh::server::Config>,
    handler: Connection,
    mut stop: watch::Receiver<bool>,
) {
    let session =
        match tokio::time::timeout(GREETING, russh::server::run_stream(config, stream, handler))
            .await
        {
            Ok(Ok(s)) => s,
            _ => return,
        };
    let handle = session.handle();
    tokio::pin!(session);
    tokio::select! {
        _ = &mut session => {}
        () = stopped(&mut stop) => {
            let _ = handle
                .disconnect(
                    russh::Disconnect::ByApplication,
                    "the simulator is stopping".into(),
                    "en".into(),
                )
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut session).await;
        }
    }
}

/// Resolves once the simulator stops (or is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
