//! The Images view's work: one listing (Glance, Nova, Cinder at once) judged by the retention
//! policy, and kiln's build records read beside it, off the UI thread.

use std::sync::Arc;

use super::{Event, ImagesEffect, Loaded};
use crate::app::executor::Exec;
use crate::bake::record::RecordStore;

/// Runs one of the Images view's effects.
pub fn run(effect: ImagesEffect, exec: &mut Exec) {
    match effect {
        ImagesEffect::Load => {
            let (cloud, tx, clock) = (exec.cloud.clone(), exec.sender(), exec.clock.clone());
            let policy = exec.settings.config.retention.policy();
            let store = RecordStore::new(exec.settings.paths.builds_dir());
            tokio::spawn(async move {
                let listed = async {
                    let client = cloud.client().await?;
                    crate::inventory::fetch::fetch(&client, false, policy, clock.now()).await
                }
                .await;
                let result = match listed {
                    Ok(inventory) => {
                        let records = tokio::task::spawn_blocking(move || {
                            store
                                .list()
                                .map(|l| l.into_iter().filter_map(Result::ok).collect())
                                .unwrap_or_default()
                        })
                        .await
                        .unwrap_or_default();
                        log::info!(target: "kiln::images", "{} images, usage {:?}", inventory.images.len(), inventory.usage_scope);
                        Ok(Box::new(Loaded {
                            inventory: Arc::new(inventory),
                            records,
                        }))
                    }
                    Err(e) => {
                        log::warn!(target: "kiln::images", "{e}");
                        Err(e.to_string())
                    }
                };
                let _ = tx.send(Event::Loaded(result).into()).await;
            });
        }
    }
}
