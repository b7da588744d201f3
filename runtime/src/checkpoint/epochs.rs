//! A training run's output folder, replaced one whole epoch at a time.
//!
//! Each epoch's files (`metrics.csv`, `weights.safetensors`, `loss.svg`)
//! are written, flushed, into a fresh hidden folder `.epoch-N-PID`. Then a
//! symbolic link `current` is pointed at it with one rename, the only step
//! that changes what a reader sees. The user-visible paths
//! `FOLDER/metrics.csv`, `FOLDER/weights.safetensors` and `FOLDER/loss.svg`
//! are links into `current`, so at every instant, including after a
//! `SIGKILL` at any point, they are the files of one and the same epoch.
//! The previous epoch's folder is removed after the swap; folders and links
//! left by a killed run are removed when the next run opens the folder.
//!
//! Links are a Unix facility; on other systems the files are renamed into
//! place one by one (each atomic, the set not).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The link that names the current epoch's folder.
const CURRENT: &str = "current";

/// The prefix of an epoch folder's name.
const EPOCH_PREFIX: &str = ".epoch-";

/// The prefix of a link being made, before it is renamed to `current`.
const LINK_PREFIX: &str = ".current.tmp";

/// An output folder opened for a run.
#[derive(Debug)]
pub struct EpochFolder {
    dir: PathBuf,
}

impl EpochFolder {
    /// Creates `dir` if needed, removes what a killed run left behind, and
    /// proves the folder writable by creating and removing a file in it, so
    /// that an unwritable folder is an error before training starts.
    pub fn open(dir: &Path) -> std::io::Result<EpochFolder> {
        std::fs::create_dir_all(dir)?;
        let probe = dir.join(format!(".probe{}", std::process::id()));
        File::create(&probe)?.write_all(b"cdlc")?;
        std::fs::remove_file(&probe)?;
        let folder = EpochFolder {
            dir: dir.to_path_buf(),
        };
        folder.remove_stale()?;
        Ok(folder)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `files` (name and bytes) as epoch `epoch`'s set and makes it
    /// the current one.
    pub fn commit(&self, epoch: usize, files: &[(&str, &[u8])]) -> std::io::Result<()> {
        let name = format!("{EPOCH_PREFIX}{epoch}-{}", std::process::id());
        let staged = self.dir.join(&name);
        if staged.exists() {
            std::fs::remove_dir_all(&staged)?;
        }
        std::fs::create_dir(&staged)?;
        for (file, bytes) in files {
            let mut f = File::create(staged.join(file))?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        sync_dir(&staged);
        self.swap_in(&name, files)?;
        self.remove_stale()
    }

    /// Points `current` at the folder `name` and makes sure every file has
    /// its link at the top of the folder.
    #[cfg(unix)]
    fn swap_in(&self, name: &str, files: &[(&str, &[u8])]) -> std::io::Result<()> {
        use std::os::unix::fs::symlink;
        let link = self
            .dir
            .join(format!("{LINK_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_file(&link);
        symlink(name, &link)?;
        std::fs::rename(&link, self.dir.join(CURRENT))?;
        for (file, _) in files {
            let path = self.dir.join(file);
            let target = Path::new(CURRENT).join(file);
            if std::fs::read_link(&path).ok().as_deref() == Some(target.as_path()) {
                continue;
            }
            // A file of an older layout (or anything else) in the way is
            // replaced by the link, itself made aside and renamed in.
            let aside = self
                .dir
                .join(format!("{LINK_PREFIX}{}.{file}", std::process::id()));
            let _ = std::fs::remove_file(&aside);
            symlink(&target, &aside)?;
            std::fs::rename(&aside, &path)?;
        }
        sync_dir(&self.dir);
        Ok(())
    }

    /// Without links, each file is renamed into place on its own.
    #[cfg(not(unix))]
    fn swap_in(&self, name: &str, files: &[(&str, &[u8])]) -> std::io::Result<()> {
        for (file, _) in files {
            std::fs::rename(self.dir.join(name).join(file), self.dir.join(file))?;
        }
        Ok(())
    }

    /// Removes every epoch folder but the current one, and every link or
    /// temporary file a run left half made.
    fn remove_stale(&self) -> std::io::Result<()> {
        let current = std::fs::read_link(self.dir.join(CURRENT)).ok();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let keep = current.as_deref() == Some(Path::new(name.as_ref()));
            if name.starts_with(EPOCH_PREFIX) && !keep {
                std::fs::remove_dir_all(entry.path())?;
            } else if name.starts_with(LINK_PREFIX) || is_old_temporary(&name) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// Whether `name` is a temporary file of `write_atomic` (`.NAME.tmpPID`),
/// which a killed run can leave behind.
fn is_old_temporary(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp")
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Flushes a folder's entries to disk where the platform allows it.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test's folder (not yet created), removed when the test passes
    /// and kept to be looked at when it fails.
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = Path;

        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn scratch(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cdlc-epochs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn each_commit_replaces_the_whole_set_and_leaves_nothing_behind() {
        let dir = scratch("commit");
        let f = EpochFolder::open(&dir).unwrap();
        for epoch in 1..=3 {
            let text = format!("epoch {epoch}");
            f.commit(
                epoch,
                &[("a.txt", text.as_bytes()), ("b.txt", text.as_bytes())],
            )
            .unwrap();
            for file in ["a.txt", "b.txt"] {
                assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), text);
            }
        }
        let mut entries = names(&dir);
        let epoch_dir = entries
            .iter()
            .position(|n| n.starts_with(".epoch-3-"))
            .unwrap();
        entries.remove(epoch_dir);
        assert_eq!(entries, ["a.txt", "b.txt", "current"]);
    }

    #[test]
    fn leftovers_of_a_killed_run_and_old_files_are_cleaned() {
        let dir = scratch("stale");
        std::fs::create_dir_all(dir.join(".epoch-7-1")).unwrap();
        std::fs::write(dir.join(".epoch-7-1/a.txt"), "half").unwrap();
        std::fs::write(dir.join(".weights.safetensors.tmp4242"), "orphan").unwrap();
        std::fs::write(dir.join("a.txt"), "old layout").unwrap();
        std::fs::write(dir.join("notes.tmp"), "the user's").unwrap();
        let f = EpochFolder::open(&dir).unwrap();
        assert_eq!(names(&dir), ["a.txt", "notes.tmp"]);
        f.commit(1, &[("a.txt", b"new")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "new");
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error_when_opened() {
        // A path below a file cannot be a folder, whoever runs the test.
        let dir = scratch("under-a-file");
        std::fs::create_dir_all(&*dir).unwrap();
        std::fs::write(dir.join("file"), "not a folder").unwrap();
        assert!(EpochFolder::open(&dir.join("file").join("run")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_folder_is_an_error_when_opened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("readonly");
        std::fs::create_dir_all(&*dir).unwrap();
        std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Privileged users can write anyway; the check is only meaningful
        // when the folder really refuses a file.
        let refuses = File::create(dir.join("x")).is_err();
        let opened = EpochFolder::open(&dir);
        std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if refuses {
            assert!(opened.is_err());
        }
    }
}
