//! Audit checkpoints written by the server every few minutes (`lodestone serve
//! --checkpoint-key FILE --checkpoint-file FILE`): each verifies the chain since the newest
//! checkpoint, signs the head and appends it to the file, and logs the line. Events a database
//! owner appends are indistinguishable from genuine ones only until the next checkpoint, so a
//! short period keeps that window short (docs/security.md, "The audit chain").

use std::path::PathBuf;
use std::time::Duration;

use lodestone_mes::audit::{Checkpoint, CheckpointKey};
use lodestone_mes::Mes;

/// Where and how often checkpoints are written.
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// Signing key (kept off the database host).
    pub key: CheckpointKey,
    /// File the checkpoint lines are appended to.
    pub file: PathBuf,
    /// Time between checkpoints.
    pub every: Duration,
}

/// Writes one checkpoint now. The hashing and the file writes run on a blocking thread (the
/// first checkpoint of a large chain hashes all of it).
pub async fn checkpoint_now(
    mes: &Mes,
    policy: &CheckpointPolicy,
) -> lodestone_mes::Result<Checkpoint> {
    let (mes, key, file) = (mes.clone(), policy.key.clone(), policy.file.clone());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(mes.write_checkpoint(&key, &file)))
        .await
        .unwrap_or_else(|e| {
            Err(lodestone_mes::MesError::File(format!(
                "the checkpoint task failed: {e}"
            )))
        })
}

/// Writes a checkpoint at once and then every `policy.every`, logging each line (target
/// `lodestone::audit`) and logging a failure as an error without stopping; a chain that does
/// not verify is never signed. Abort the returned task to stop.
pub fn spawn(mes: Mes, policy: CheckpointPolicy) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(policy.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match checkpoint_now(&mes, &policy).await {
                Ok(cp) => tracing::info!(
                    target: "lodestone::audit",
                    file = %policy.file.display(),
                    checkpoint = %cp.to_line(),
                    "audit checkpoint"
                ),
                Err(e) => tracing::error!(
                    target: "lodestone::audit",
                    file = %policy.file.display(),
                    error = %e,
                    "AUDIT CHECKPOINT REFUSED: the chain or an earlier checkpoint does not hold"
                ),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_are_appended_periodically_and_none_over_a_file_signed_with_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let mes = Mes::create(dir.path().join("mes.db").to_str().unwrap())
            .await
            .unwrap();
        mes.bootstrap_admin("admin", "Ada Admin", "admin-password")
            .await
            .unwrap();
        let policy = CheckpointPolicy {
            key: CheckpointKey::from_bytes(b"a server test key of at least 32 bytes").unwrap(),
            file: dir.path().join("plant.ckpt"),
            every: Duration::from_millis(100),
        };
        let task = spawn(mes.clone(), policy.clone());
        let lines = || {
            std::fs::read_to_string(&policy.file)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        for _ in 0..100 {
            if lines() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        task.abort();
        assert!(lines() >= 3, "{} checkpoints", lines());
        let cps = lodestone_mes::audit::read_checkpoints(&policy.file).unwrap();
        assert!(cps
            .iter()
            .all(|cp| cp.seq == 1 && cp.signature_holds(&policy.key)));
        // A file with a line signed under another key is refused, and nothing is appended.
        let other = CheckpointPolicy {
            key: CheckpointKey::from_bytes(b"another key, also of 32 bytes or more").unwrap(),
            ..policy.clone()
        };
        let before = lines();
        assert!(checkpoint_now(&mes, &other).await.is_err());
        assert_eq!(lines(), before);
    }
}
