//! Which paths take part in sync: the built-in rules for what editors, tools and operating
//! systems leave in a folder, plus the user's own `.hyperclayignore` at the folder root, in
//! gitignore syntax. Local and remote paths get the same verdict, so an ignored path is neither
//! uploaded nor written here. It must never read anything but the ignore file, and a broken
//! ignore file is an error to show, never "ignore nothing" (every wrong upload is permanent).

use std::path::{Path, PathBuf};

use hyperclay_protocol::RemotePath;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{VERSIONS_DIR, Verdict};

/// The user's ignore file, at the folder root. A dotfile, so it is never synced itself.
pub const IGNORE_FILE: &str = ".hyperclayignore";

/// An ignore file bigger than this is refused rather than read (a mistake, not a rule list).
const MAX_IGNORE_BYTES: u64 = 256 * 1024;

/// The built-in rules, in gitignore syntax. Each line is there because a real program leaves
/// that name in a folder for a moment or for good; the user can re-include any of them with
/// `!pattern` in `.hyperclayignore`.
pub const DEFAULT_RULES: &str = r"
# Dotfiles and dot-folders: .git/, .DS_Store and ._* (macOS), .vscode/, .idea/, Emacs locks .#x,
# vim swap .x.swp, gedit .goutputstream-*, Kate .x.kate-swp, LibreOffice .~lock.x#. The protocol
# refuses names starting with a dot anyway.
.*
# Windows
[Tt]humbs.db
[Ee]hthumbs.db
[Dd]esktop.ini
# MS Office lock files
~$*
# Backups: vim, nano, gedit, Kate, Emacs (x~); vim's write test file; nano's emergency save
*~
4913
*.save
*.swp
*.swx
*.swo
# Emacs auto-save
\#*#
# Temp and partial downloads: Chrome (.crdownload, and .crswap of its File System Access saves),
# Firefox (.part), generic .tmp
*.tmp
*.temp
*.part
*.crdownload
*.crswap
# JetBrains safe write
*___jb_tmp___
*___jb_old___
# Python tempfile.NamedTemporaryFile / mkstemp: tmp + 8 of [a-z0-9_], with or without a suffix
tmp[a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_]
tmp[a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_][a-z0-9_].*
# GNU sed -i: sed + 6 of [A-Za-z0-9], renamed over the file
sed[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]
# npm write-file-atomic (x.html.<32-bit murmur hash in decimal>); fewer than 6 digits is
# a 1 in 40,000 chance, so those are left to the vanish check
*.[0-9][0-9][0-9][0-9][0-9][0-9]
*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9]
*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]
*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]
*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]
# patch and merge leftovers
*.orig
*.rej
# Python
__pycache__/
*.pyc
*.pyo
# Node and package managers
node_modules/
bower_components/
npm-debug.log*
yarn-debug.log*
yarn-error.log*
# build output
build/
dist/
target/
";

#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("{IGNORE_FILE} cannot be read: {0}")]
    Read(#[source] std::io::Error),
    #[error("{IGNORE_FILE} is over {MAX_IGNORE_BYTES} bytes; sync is paused until it is smaller")]
    TooLarge,
    #[error("{IGNORE_FILE} line {line}: {why}; sync is paused until it is fixed")]
    BadLine { line: usize, why: String },
}

/// The rules in force for one folder.
pub struct Rules {
    matcher: Gitignore,
}

impl Rules {
    /// The built-in rules alone.
    pub fn builtin() -> Rules {
        Rules::with_user_rules("").unwrap_or_else(|_| unreachable!("the user rules are empty"))
    }

    /// The built-in rules and `folder`'s `.hyperclayignore`, if it has one.
    pub fn load(folder: &Path) -> Result<Rules, IgnoreError> {
        let path = folder.join(IGNORE_FILE);
        let text = match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_IGNORE_BYTES => return Err(IgnoreError::TooLarge),
            Ok(_) => std::fs::read(&path).map_err(IgnoreError::Read)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(IgnoreError::Read(e)),
        };
        Rules::with_user_rules(&String::from_utf8_lossy(&text))
    }

    /// The built-in rules followed by `user` (later lines win, as in one .gitignore).
    pub fn with_user_rules(user: &str) -> Result<Rules, IgnoreError> {
        // Relative paths are matched as given; the root is never stripped from them.
        let mut builder = GitignoreBuilder::new("");
        for line in DEFAULT_RULES.lines() {
            if let Err(e) = builder.add_line(None, line) {
                unreachable!("built-in ignore rule {line:?}: {e}");
            }
        }
        for (i, line) in user.lines().enumerate() {
            builder
                .add_line(Some(PathBuf::from(IGNORE_FILE)), line)
                .map_err(|e| IgnoreError::BadLine {
                    line: i + 1,
                    why: e.to_string(),
                })?;
        }
        let matcher = builder.build().map_err(|e| IgnoreError::BadLine {
            line: 0,
            why: e.to_string(),
        })?;
        Ok(Rules { matcher })
    }

    /// Is the folder-relative `/` path left out, by its own name or any folder above it?
    pub fn ignores(&self, rel: &str, is_dir: bool) -> bool {
        if rel.split('/').next() == Some(VERSIONS_DIR) {
            return true;
        }
        self.matcher
            .matched_path_or_any_parents(rel, is_dir)
            .is_ignore()
    }

    /// Is `rel` itself left out, given that no folder above it is? For a walk that never
    /// descends into an ignored folder: one match instead of one per parent.
    fn ignores_own_name(&self, rel: &str, is_dir: bool) -> bool {
        rel == VERSIONS_DIR || self.matcher.matched(rel, is_dir).is_ignore()
    }

    /// Decides for a folder-relative `/`-separated file path (local or from the server).
    pub fn verdict(&self, rel: &str) -> Verdict {
        file_verdict(rel, self.ignores(rel, false))
    }

    /// Decides for a folder-relative `/`-separated folder path, by the same rules as files.
    pub fn folder_verdict(&self, rel: &str) -> Verdict {
        folder_verdict(rel, self.ignores(rel, true))
    }

    /// [`Rules::verdict`] for a walk that has pruned every ignored folder above `rel`.
    pub fn walk_verdict(&self, rel: &str) -> Verdict {
        file_verdict(rel, self.ignores_own_name(rel, false))
    }

    /// [`Rules::folder_verdict`] for a walk that has pruned every ignored folder above `rel`.
    pub fn walk_folder_verdict(&self, rel: &str) -> Verdict {
        folder_verdict(rel, self.ignores_own_name(rel, true))
    }
}

fn file_verdict(rel: &str, ignored: bool) -> Verdict {
    if ignored {
        return Verdict::Ignored;
    }
    match RemotePath::file(rel) {
        Ok(p) => Verdict::Synced(p),
        Err(e) => Verdict::Forbidden(e.to_string()),
    }
}

fn folder_verdict(rel: &str, ignored: bool) -> Verdict {
    if ignored {
        return Verdict::Ignored;
    }
    match RemotePath::folder(rel) {
        Ok(p) => Verdict::Synced(p),
        Err(e) => Verdict::Forbidden(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(rules: &Rules, p: &str) -> bool {
        rules.verdict(p) == Verdict::Ignored
    }

    #[test]
    fn what_editors_tools_and_systems_leave_behind_is_ignored() {
        let rules = Rules::builtin();
        for p in [
            ".hidden.html",
            "a/.git/x.html",
            ".git/objects/ab/cdef",
            "sites-versions/x/2026.html",
            "node_modules/a.js",
            "a/node_modules/b/index.js",
            "x.html~",
            "~$doc.docx",
            ".~lock.x.odt#",
            ".#x.html",
            "#x.html#",
            "a/#notes.txt#",
            "a.swp",
            ".x.html.swp",
            "4913",
            "a.tmp",
            "a.part",
            "a.crdownload",
            "x.html.crswap",
            "x.html___jb_tmp___",
            "x.html___jb_old___",
            "tmpa1b2c3_d",
            "tmpa1b2c3_d.html",
            "sedXy12Ab",
            "x.html.3817263412",
            "x.html.123456",
            "x.html.orig",
            "x.html.rej",
            "npm-debug.log",
            "npm-debug.log.12345",
            "__pycache__/m.cpython-311.pyc",
            "lib/__pycache__/m.cpython-311.pyc",
            "m.pyc",
            "build/out.js",
            "dist/app.js",
            "target/debug/app",
            ".goutputstream-ABC123",
            ".DS_Store",
            "._x.html",
            "Thumbs.db",
            "thumbs.db",
            "desktop.ini",
            "Desktop.ini",
            "x.save",
        ] {
            assert!(ignored(&rules, p), "{p} should be ignored");
        }
        for p in [
            "x.html",
            "deep/img.png",
            "tmp.html",
            "tmpl.html",
            "sedan.html",
            "notes-2026.txt",
            "v1.2.txt",
            "build.html",
            "a/builder/x.html",
        ] {
            assert!(matches!(rules.verdict(p), Verdict::Synced(_)), "{p}");
        }
        assert!(matches!(
            rules.verdict("Bad Name.html"),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            rules.verdict("a/b/c/d/e/f/x.html"),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            rules.folder_verdict("a/b-c_9"),
            Verdict::Synced(_)
        ));
        assert_eq!(rules.folder_verdict("sites-versions"), Verdict::Ignored);
        assert_eq!(rules.folder_verdict("a/node_modules"), Verdict::Ignored);
        assert_eq!(rules.folder_verdict("a/.git"), Verdict::Ignored);
        assert_eq!(rules.folder_verdict("__pycache__"), Verdict::Ignored);
        assert!(matches!(
            rules.folder_verdict("My Folder"),
            Verdict::Forbidden(_)
        ));
    }

    #[test]
    fn the_users_rules_add_to_and_override_the_built_in_ones() {
        let rules = Rules::with_user_rules(
            "# drafts stay here\ndrafts/\n*.bak.html\n!build/\n/private.html\n",
        )
        .unwrap();
        assert!(ignored(&rules, "drafts/x.html"));
        assert!(ignored(&rules, "a/drafts/x.html"));
        assert!(ignored(&rules, "x.bak.html"));
        assert!(ignored(&rules, "private.html"));
        assert!(!ignored(&rules, "a/private.html"));
        assert!(!ignored(&rules, "build/x.html"));
        assert!(ignored(&rules, "node_modules/x.js"));
        // The local backups are never synced, whatever the user writes.
        let rules = Rules::with_user_rules("!sites-versions/\n").unwrap();
        assert!(ignored(&rules, "sites-versions/x/1.html"));
    }

    #[test]
    fn a_broken_or_unreadable_ignore_file_is_an_error_not_an_empty_list() {
        let err = Rules::with_user_rules("ok.html\n[z-a\n").err().unwrap();
        assert!(matches!(err, IgnoreError::BadLine { line: 2, .. }), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(Rules::load(dir.path()).is_ok());
        std::fs::write(dir.path().join(IGNORE_FILE), "drafts/\n").unwrap();
        assert!(ignored(&Rules::load(dir.path()).unwrap(), "drafts/a.html"));
        let big = std::fs::File::create(dir.path().join(IGNORE_FILE)).unwrap();
        big.set_len(MAX_IGNORE_BYTES + 1).unwrap();
        assert!(matches!(
            Rules::load(dir.path()),
            Err(IgnoreError::TooLarge)
        ));
    }
}
