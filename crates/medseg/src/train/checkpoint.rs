//! Atomic checkpoints: model, optimizer and loop state, so `--resume` continues exactly.
//!
//! Layout under `<run>/checkpoint/`: one folder per saved epoch (`epoch-0007/` holding
//! `model.bpk`, `optim.bpk`, `state.json`) and `last.json`, which names the newest complete
//! folder. A checkpoint counts only once `last.json` has been renamed into place, so a run killed
//! while writing keeps the previous one; older folders are removed after that.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::write_atomic;
use crate::{Error, Result};

/// Loop state saved with each checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimizer steps completed.
    pub steps_done: usize,
    /// Best validation F1 so far, and its epoch.
    pub best_f1: Option<f64>,
    /// Epoch of `best_f1`.
    pub best_epoch: Option<usize>,
    /// Validations since the best one (early stopping).
    pub since_best: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    folder: String,
}

/// The checkpoint folder of a run.
pub fn dir(run: &Path) -> PathBuf {
    run.join("checkpoint")
}

/// Saves a checkpoint: `model` and `optim` are burnpack bytes.
pub fn save(run: &Path, state: &LoopState, model: &[u8], optim: &[u8]) -> Result<()> {
    let root = dir(run);
    let name = format!("epoch-{:04}", state.epochs_done);
    let folder = root.join(&name);
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    write_atomic(&folder.join("model.bpk"), model)?;
    write_atomic(&folder.join("optim.bpk"), optim)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(&folder.join("state.json"), &json)?;
    let pointer = serde_json::to_vec(&Pointer {
        folder: name.clone(),
    })
    .map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(&root.join("last.json"), &pointer)?;
    // Only the newest complete checkpoint is kept.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let n = entry.file_name().to_string_lossy().to_string();
            if n.starts_with("epoch-") && n != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// Loop state.
    pub state: LoopState,
    /// Model burnpack bytes.
    pub model: Vec<u8>,
    /// Optimizer burnpack bytes.
    pub optim: Vec<u8>,
}

/// Loads the newest complete checkpoint of `run`, if any.
pub fn load(run: &Path) -> Result<Option<Checkpoint>> {
    let root = dir(run);
    let pointer_path = root.join("last.json");
    if !pointer_path.is_file() {
        return Ok(None);
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    let pointer: Pointer =
        serde_json::from_slice(&read(&pointer_path)?).map_err(|e| Error::Decode {
            path: pointer_path.clone(),
            reason: e.to_string(),
        })?;
    let folder = root.join(pointer.folder);
    let state_path = folder.join("state.json");
    let state: LoopState =
        serde_json::from_slice(&read(&state_path)?).map_err(|e| Error::Decode {
            path: state_path.clone(),
            reason: e.to_string(),
        })?;
    Ok(Some(Checkpoint {
        state,
        model: read(&folder.join("model.bpk"))?,
        optim: read(&folder.join("optim.bpk"))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_complete_checkpoint_wins() {
        let run = tempfile::tempdir().unwrap();
        assert!(load(run.path()).unwrap().is_none());
        let mut s = LoopState {
            epochs_done: 1,
            ..Default::default()
        };
        save(run.path(), &s, b"m1", b"o1").unwrap();
        s.epochs_done = 2;
        save(run.path(), &s, b"m2", b"o2").unwrap();
        // a half-written later checkpoint (no pointer update) is ignored
        std::fs::create_dir_all(dir(run.path()).join("epoch-0003")).unwrap();
        let c = load(run.path()).unwrap().unwrap();
        assert_eq!(c.state.epochs_done, 2);
        assert_eq!(c.model, b"m2");
        assert!(!dir(run.path()).join("epoch-0001").exists());
    }
}
