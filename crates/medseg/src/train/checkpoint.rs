//! Atomic checkpoints: model, optimizer and loop state, so `--resume` continues exactly, and
//! falls back to an older checkpoint when the newest one is damaged.
//!
//! Layout under `<run>/checkpoint/`: one folder per saved epoch (`epoch-0007/` holding
//! `model.bpk`, `optim.bpk`, `state.json`) and `last.json`, which names the newest complete
//! folder. Every file goes through [`write_atomic`] (temporary file, fsync, rename, fsync of the
//! folder); `state.json` is written after the two tensor files and records their length and
//! SHA-256, and `last.json` is written last, so a checkpoint counts only once all of it is on
//! disk. The previous folder is kept until the next one is complete: after a save the newest
//! two remain, so a damaged newest checkpoint still leaves one to fall back to.
//!
//! [`load`] tries the folder `last.json` names, then the other folders newest first; a folder
//! is rejected, with the reason, when a file is missing, truncated or garbled (its checksum or
//! its decoding fails).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// Length and SHA-256 (hex) of a checkpoint file, recorded in `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FileSum {
    bytes: u64,
    sha256: String,
}

impl FileSum {
    fn of(bytes: &[u8]) -> Self {
        FileSum {
            bytes: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The contents of `state.json`: the loop state and the sums of the two tensor files
/// (absent in checkpoints written before they were recorded, which are then not verified).
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: LoopState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<FileSum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optim: Option<FileSum>,
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    folder: String,
}

/// How many checkpoint folders a save leaves: the new one and the one before it.
pub const KEPT: usize = 2;

/// The checkpoint folder of a run.
pub fn dir(run: &Path) -> PathBuf {
    run.join("checkpoint")
}

fn folder_name(epochs_done: usize) -> String {
    format!("epoch-{epochs_done:04}")
}

/// The epoch number of a checkpoint folder name (`epoch-0007` is 7).
fn folder_epoch(name: &str) -> Option<usize> {
    name.strip_prefix("epoch-")?.parse().ok()
}

/// The checkpoint folders of `root`, newest first.
fn folders(root: &Path) -> Vec<(usize, String)> {
    let mut found: Vec<(usize, String)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            folder_epoch(&name).map(|n| (n, name))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found
}

/// Saves a checkpoint: `model` and `optim` are burnpack bytes. The folder before this one is
/// kept; older ones are removed once the new one is complete.
///
/// # Errors
/// [`Error::DiskFull`] or [`Error::Io`] when a file cannot be written; the checkpoints saved
/// before are then untouched and the incomplete new folder is removed.
pub fn save(run: &Path, state: &LoopState, model: &[u8], optim: &[u8]) -> Result<()> {
    let root = dir(run);
    let name = folder_name(state.epochs_done);
    let folder = root.join(&name);
    // A folder of this name can only be left over from a damaged or unfinished save (resume
    // fell back past it): start it afresh.
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    }
    let written = write_folder(&folder, state, model, optim).and_then(|()| {
        let pointer = serde_json::to_vec(&Pointer {
            folder: name.clone(),
        })
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
        write_atomic(&root.join("last.json"), &pointer)
    });
    if let Err(e) = written {
        // Best effort: frees the space the incomplete folder took; the error matters more.
        let _ = std::fs::remove_dir_all(&folder);
        return Err(e);
    }
    for (_, old) in folders(&root).into_iter().skip(KEPT) {
        let _ = std::fs::remove_dir_all(root.join(old));
    }
    Ok(())
}

fn write_folder(folder: &Path, state: &LoopState, model: &[u8], optim: &[u8]) -> Result<()> {
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    write_atomic(&folder.join("model.bpk"), model)?;
    write_atomic(&folder.join("optim.bpk"), optim)?;
    let file = StateFile {
        state: state.clone(),
        model: Some(FileSum::of(model)),
        optim: Some(FileSum::of(optim)),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(&folder.join("state.json"), &json)
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// The folder it was read from.
    pub folder: PathBuf,
    /// Loop state.
    pub state: LoopState,
    /// Model burnpack bytes.
    pub model: Vec<u8>,
    /// Optimizer burnpack bytes.
    pub optim: Vec<u8>,
}

/// What [`load`] found: the newest intact checkpoint and why newer ones were passed over.
pub struct Loaded {
    /// The checkpoint to resume from.
    pub checkpoint: Checkpoint,
    /// One line per file or folder passed over, naming it and what was wrong (empty when the
    /// checkpoint `last.json` names was intact).
    pub rejected: Vec<String>,
}

/// Loads the newest intact checkpoint of `run`: the folder `last.json` names, else the other
/// folders newest first. `accept` is the caller's last check (the trainer decodes the model
/// and optimizer with it); a folder it rejects is passed over like a damaged one.
///
/// Returns `Ok(None)` when the run has no checkpoint at all.
///
/// # Errors
/// [`Error::NoIntactCheckpoint`] listing every reason when checkpoints exist but none is intact.
pub fn load(
    run: &Path,
    mut accept: impl FnMut(&Checkpoint) -> Result<()>,
) -> Result<Option<Loaded>> {
    let root = dir(run);
    let pointer_path = root.join("last.json");
    let mut rejected = Vec::new();
    let mut order: Vec<String> = Vec::new();
    if pointer_path.exists() {
        match read_pointer(&pointer_path) {
            Ok(name) if root.join(&name).is_dir() => order.push(name),
            Ok(name) => rejected.push(format!(
                "{} names {name}, which does not exist",
                pointer_path.display()
            )),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    let all = folders(&root);
    if order.is_empty() && rejected.is_empty() && all.is_empty() {
        return Ok(None);
    }
    if !pointer_path.exists() {
        rejected.push(format!("{} is missing", pointer_path.display()));
    }
    for (_, name) in all {
        if !order.contains(&name) {
            order.push(name);
        }
    }
    for name in order {
        let folder = root.join(&name);
        match read_folder(&folder).and_then(|c| accept(&c).map(|()| c)) {
            Ok(checkpoint) => {
                return Ok(Some(Loaded {
                    checkpoint,
                    rejected,
                }));
            }
            Err(e) => rejected.push(e.to_string()),
        }
    }
    Err(Error::NoIntactCheckpoint {
        dir: root,
        reasons: rejected.join("; "),
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.to_path_buf(),
        },
        _ => Error::io(path, e),
    })
}

fn damaged(path: &Path, reason: impl Into<String>) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The folder name in `last.json`, which must be a plain `epoch-NNNN` name.
fn read_pointer(path: &Path) -> Result<String> {
    let pointer: Pointer =
        serde_json::from_slice(&read(path)?).map_err(|e| damaged(path, e.to_string()))?;
    if folder_epoch(&pointer.folder).is_none() {
        return Err(damaged(
            path,
            format!("'{}' is not a checkpoint folder name", pointer.folder),
        ));
    }
    Ok(pointer.folder)
}

/// Reads one checkpoint folder, checking the tensor files against the sums in `state.json`.
fn read_folder(folder: &Path) -> Result<Checkpoint> {
    let state_path = folder.join("state.json");
    let file: StateFile = serde_json::from_slice(&read(&state_path)?)
        .map_err(|e| damaged(&state_path, e.to_string()))?;
    let check = |name: &str, sum: &Option<FileSum>| -> Result<Vec<u8>> {
        let path = folder.join(name);
        let bytes = read(&path)?;
        if let Some(want) = sum {
            let got = FileSum::of(&bytes);
            if got.bytes != want.bytes {
                return Err(damaged(
                    &path,
                    format!(
                        "{} bytes, but state.json recorded {} (truncated or overwritten)",
                        got.bytes, want.bytes
                    ),
                ));
            }
            if got.sha256 != want.sha256 {
                return Err(damaged(
                    &path,
                    "its SHA-256 differs from the one in state.json (garbled)",
                ));
            }
        }
        Ok(bytes)
    };
    Ok(Checkpoint {
        folder: folder.to_path_buf(),
        model: check("model.bpk", &file.model)?,
        optim: check("optim.bpk", &file.optim)?,
        state: file.state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epochs_done: usize) -> LoopState {
        LoopState {
            epochs_done,
            ..Default::default()
        }
    }

    fn load_any(run: &Path) -> Result<Option<Loaded>> {
        load(run, |_| Ok(()))
    }

    #[test]
    fn newest_complete_checkpoint_wins_and_two_are_kept() {
        let run = tempfile::tempdir().unwrap();
        assert!(load_any(run.path()).unwrap().is_none());
        for e in 1..=3 {
            save(run.path(), &state(e), format!("m{e}").as_bytes(), b"o").unwrap();
        }
        // a half-written later checkpoint (no pointer update) is ignored
        std::fs::create_dir_all(dir(run.path()).join("epoch-0004")).unwrap();
        let loaded = load_any(run.path()).unwrap().unwrap();
        assert_eq!(loaded.checkpoint.state.epochs_done, 3);
        assert_eq!(loaded.checkpoint.model, b"m3");
        assert!(loaded.rejected.is_empty());
        assert!(!dir(run.path()).join("epoch-0001").exists());
        assert!(dir(run.path()).join("epoch-0002").exists());
    }

    /// Every kind of damage to the newest checkpoint falls back to the one before, naming the
    /// damaged file; with both damaged, the error lists both.
    #[test]
    fn damage_falls_back_to_the_previous_checkpoint() {
        type Damage = fn(&Path);
        let cases: [(&str, Damage, &str); 8] = [
            (
                "truncated model",
                |f| truncate(&f.join("epoch-0002/model.bpk")),
                "model.bpk",
            ),
            (
                "garbled model",
                |f| garble(&f.join("epoch-0002/model.bpk")),
                "model.bpk",
            ),
            (
                "truncated optimizer",
                |f| truncate(&f.join("epoch-0002/optim.bpk")),
                "optim.bpk",
            ),
            (
                "garbled optimizer",
                |f| garble(&f.join("epoch-0002/optim.bpk")),
                "optim.bpk",
            ),
            (
                "truncated state",
                |f| truncate(&f.join("epoch-0002/state.json")),
                "state.json",
            ),
            (
                "garbled pointer",
                |f| garble(&f.join("last.json")),
                "last.json",
            ),
            (
                "deleted pointer",
                |f| std::fs::remove_file(f.join("last.json")).unwrap(),
                "last.json",
            ),
            (
                "pointer to a deleted folder",
                |f| std::fs::remove_dir_all(f.join("epoch-0002")).unwrap(),
                "does not exist",
            ),
        ];
        for (what, damage, named) in cases {
            let run = tempfile::tempdir().unwrap();
            save(run.path(), &state(1), &[1; 64], &[2; 64]).unwrap();
            save(run.path(), &state(2), &[3; 64], &[4; 64]).unwrap();
            damage(&dir(run.path()));
            let loaded = load_any(run.path()).unwrap().unwrap();
            let expected = if what == "garbled pointer" || what == "deleted pointer" {
                2 // the pointer alone is damaged: the newest folder is intact
            } else {
                1
            };
            assert_eq!(loaded.checkpoint.state.epochs_done, expected, "{what}");
            let reasons = loaded.rejected.join("\n");
            assert!(reasons.contains(named), "{what}: {reasons}");
        }
    }

    #[test]
    fn no_intact_checkpoint_is_an_error_with_every_reason() {
        let run = tempfile::tempdir().unwrap();
        save(run.path(), &state(1), &[1; 64], &[2; 64]).unwrap();
        save(run.path(), &state(2), &[3; 64], &[4; 64]).unwrap();
        truncate(&dir(run.path()).join("epoch-0002/model.bpk"));
        garble(&dir(run.path()).join("epoch-0001/optim.bpk"));
        let e = load_any(run.path()).err().unwrap();
        assert!(matches!(e, Error::NoIntactCheckpoint { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("epoch-0002/model.bpk") && text.contains("epoch-0001/optim.bpk"),
            "{text}"
        );
        // the caller's own check (decoding) counts as damage too
        let run = tempfile::tempdir().unwrap();
        save(run.path(), &state(1), &[1; 64], &[2; 64]).unwrap();
        let e = load(run.path(), |_| {
            Err(Error::InvalidInput("undecodable".into()))
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("undecodable"), "{e}");
    }

    #[test]
    fn a_failed_save_keeps_the_earlier_checkpoint() {
        let run = tempfile::tempdir().unwrap();
        save(run.path(), &state(1), b"m1", b"o1").unwrap();
        // a file where the new folder must go makes the save fail
        std::fs::write(dir(run.path()).join("epoch-0002"), b"").unwrap();
        assert!(save(run.path(), &state(2), b"m2", b"o2").is_err());
        let loaded = load_any(run.path()).unwrap().unwrap();
        assert_eq!(loaded.checkpoint.model, b"m1");
    }

    fn truncate(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    }

    fn garble(path: &Path) {
        let mut bytes = std::fs::read(path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        std::fs::write(path, bytes).unwrap();
    }
}
