//! Node inspection over SSH (russh): one connection per node (direct, or through one jump host),
//! host keys against known_hosts with a decision hook for unknown ones, agent then key-file
//! authentication, the reads run as commands on that connection, and bounded parallel fan-out.
//! [`inspect`] is the entry point for the CLI and the console; the drift itself is the pure
//! [`crate::manifest::drift`].

pub mod auth;
pub mod connect;
pub mod error;
pub mod exec;
pub mod files;
pub mod hostkey;
pub mod known_hosts;
pub mod options;
pub mod reads;
pub mod report;
pub mod target;

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use crate::manifest::Expectations;

pub use error::NodeError;
pub use hostkey::{AcceptNew, HostKeyDecision, HostKeyPolicy, UnknownHostKey};
pub use options::InspectOptions;
pub use report::{ImageKind, NodeReport, exit_code};
pub use target::{JumpHost, Target};

use connect::{Connection, Route};

/// Where one node's inspection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for a free slot (the fan-out is bounded).
    Queued,
    /// TCP, key exchange, host key, authentication.
    Connecting,
    /// Running the reads.
    Reading,
    /// Finished: read or not, with this many error findings.
    Done {
        /// The node was read.
        ok: bool,
        /// Findings of severity error.
        errors: usize,
    },
}

/// A progress event: node `index` (in the order given) is at `stage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Position in the targets given.
    pub index: usize,
    /// The node.
    pub target: Target,
    /// Where it is.
    pub stage: Stage,
}

/// A progress callback (called from several tasks; keep it quick: send into a channel).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Inspects every target, at most `options.parallel` at once, and returns one report per
/// target in the order given. Never fails as a whole: a node that cannot be read has
/// `ok: false` and its error. Unknown host keys are put to `policy`.
pub async fn inspect(
    targets: &[Target],
    options: &InspectOptions,
    expect: &Expectations,
    policy: Arc<dyn HostKeyPolicy>,
    progress: ProgressFn,
) -> Vec<NodeReport> {
    let options = Arc::new(options.clone());
    let expect = Arc::new(expect.clone());
    let slots = Arc::new(Semaphore::new(options.parallel.max(1)));
    let jump: Arc<OnceCell<Result<Connection, NodeError>>> = Arc::new(OnceCell::new());
    let mut tasks = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        progress(Progress {
            index,
            target: target.clone(),
            stage: Stage::Queued,
        });
        let (options, expect, policy, progress, slots, jump, target) = (
            options.clone(),
            expect.clone(),
            policy.clone(),
            progress.clone(),
            slots.clone(),
            jump.clone(),
            target.clone(),
        );
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let say = |stage| {
                progress(Progress {
                    index,
                    target: target.clone(),
                    stage,
                })
            };
            say(Stage::Connecting);
            let report = inspect_one(&target, &options, &expect, policy, &jump, &say).await;
            say(Stage::Done {
                ok: report.ok,
                errors: report.errors(),
            });
            (index, report)
        });
    }
    let mut reports: Vec<Option<NodeReport>> = vec![None; targets.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, r)) = joined {
            reports[i] = Some(r);
        }
    }
    reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                NodeReport::failed(
                    &targets[i],
                    &targets[i].to_string(),
                    NodeError::Session {
                        host: targets[i].address(),
                        cause: "the inspection task failed".into(),
                    },
                )
            })
        })
        .collect()
}

/// One node: connect (through the shared jump connection when there is one), read, report.
async fn inspect_one(
    target: &Target,
    options: &InspectOptions,
    expect: &Expectations,
    policy: Arc<dyn HostKeyPolicy>,
    jump: &OnceCell<Result<Connection, NodeError>>,
    say: &(dyn Fn(Stage) + Send + Sync),
) -> NodeReport {
    let host = target.to_string();
    let conn = match &options.jump {
        None => connect::connect(target, &options.user, Route::Direct, options, policy).await,
        Some(j) => {
            let jump_conn = jump
                .get_or_init(|| async {
                    let user = j.user.as_deref().unwrap_or(&options.user);
                    connect::connect(&j.target, user, Route::Direct, options, policy.clone()).await
                })
                .await;
            match jump_conn {
                Ok(jc) => {
                    connect::connect(target, &options.user, Route::Through(jc), options, policy)
                        .await
                        .map_err(|e| match e {
                            NodeError::Connect { host, cause } => NodeError::Jump {
                                jump: j.to_string(),
                                cause: format!("{host}: {cause}"),
                            },
                            other => other,
                        })
                }
                Err(e) => Err(NodeError::Jump {
                    jump: j.to_string(),
                    cause: e.to_string(),
                }),
            }
        }
    };
    let conn = match conn {
        Ok(c) => c,
        Err(e) => return NodeReport::failed(target, &host, e),
    };
    say(Stage::Reading);
    let facts = reads::read_node(&conn, &host, options).await;
    let _ = conn
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    NodeReport::read(target, &host, facts, expect)
}
