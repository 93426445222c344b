//! The protocol's path rules, as one validated type.
//!
//! A [`RemotePath`] is `/`-separated, relative, at most five folder levels deep, and every segment
//! obeys its rule: folders `^[a-z0-9_-]+$`; apps (`.html`/`.htmlclay`) `^[a-z0-9_-]+\.(html|htmlclay)$`
//! without leading, trailing or doubled `-`; uploads at most 255 bytes, no control characters,
//! none of `/ \ < > : " | ? *`, no leading dot, no trailing dot or space, no character that
//! makes a name display as something it is not (bidi controls, zero-width and other invisible
//! characters, line separators), and no 8.3 short name (`HELLOW~1.TXT`). No segment is a Windows
//! reserved name (`con`, `nul`, `com1`, `conin$`, … in any case, with any extension).
//! `.`, `..`, empty segments, NUL and backslashes are always `invalid_path`.
//!
//! [`collision_key`] says which valid paths are one file on a case-insensitive or normalising
//! filesystem (Windows, macOS), where only one of them can exist.
//!
//! Both sides use it: the server on every request, the client on every path a server sends
//! (a hostile server must never make the client write outside its folder).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Most folder levels above a file.
pub const MAX_FOLDER_DEPTH: usize = 5;
/// Longest upload name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

const WINDOWS_RESERVED: &[&str] = &[
    "con",
    "prn",
    "aux",
    "nul",
    "com0",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "com\u{b9}",
    "com\u{b2}",
    "com\u{b3}",
    "lpt0",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
    "lpt\u{b9}",
    "lpt\u{b2}",
    "lpt\u{b3}",
    // The console's own input and output: `CreateFile("CONIN$")` opens the console, not a file.
    "conin$",
    "conout$",
];

/// Characters left as they are in a URL path segment: RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a path breaks the rules. [`PathError::code`] gives the protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is absolute")]
    Absolute,
    #[error("the path has an empty segment")]
    EmptySegment,
    #[error("the path has a `.` or `..` segment")]
    DotSegment,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("the path contains a backslash")]
    Backslash,
    #[error("the path is not valid percent-encoded UTF-8")]
    BadEncoding,
    #[error("the path is more than {MAX_FOLDER_DEPTH} folders deep")]
    TooDeep,
    #[error("folder name {0:?} must match ^[a-z0-9_-]+$")]
    FolderName(String),
    #[error(
        "app name {0:?} must be lowercase letters, digits, `_` or single `-` followed by .html or .htmlclay"
    )]
    AppName(String),
    #[error("name {0:?} is reserved on Windows")]
    ReservedName(String),
    #[error(
        "file name {0:?} is too long, has a control character, one of / \\ < > : \" | ? *, a leading dot, or a trailing dot or space"
    )]
    UploadName(String),
    /// Shown as something it is not: a bidi control turns `photo\u{202e}gnp.exe` into
    /// "photoexe.png"; an invisible character makes two names look alike.
    #[error(
        "file name {0:?} has a character that changes how it is displayed (a bidi control, an invisible or zero-width character, or a line separator)"
    )]
    DeceptiveName(String),
    /// Windows gives long names a second, 8.3 name (`helloworld.txt` is also `HELLOW~1.TXT`):
    /// a file with such a name may be another file there.
    #[error(
        "file name {0:?} has the form of a Windows short (8.3) name, which may be another file's"
    )]
    ShortName(String),
}

impl PathError {
    /// The protocol error code: `invalid_path` for structural faults, `invalid_name` for a segment
    /// that breaks its naming rule.
    pub fn code(&self) -> &'static str {
        match self {
            PathError::FolderName(_)
            | PathError::AppName(_)
            | PathError::ReservedName(_)
            | PathError::UploadName(_)
            | PathError::DeceptiveName(_)
            | PathError::ShortName(_) => "invalid_name",
            _ => "invalid_path",
        }
    }
}

/// What a file name says about a file: an app or an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryName {
    App,
    Upload,
}

impl EntryName {
    /// `.html` and `.htmlclay`, in any case, are apps; everything else is an upload.
    pub fn of(file_name: &str) -> EntryName {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".html") || lower.ends_with(".htmlclay") {
            EntryName::App
        } else {
            EntryName::Upload
        }
    }
}

/// The app name of a file path (its file name without the extension), when it is an app.
/// Works on any `/`-separated path, valid or not.
pub fn app_name_of(path: &str) -> Option<&str> {
    let file = path.rsplit('/').next()?;
    if EntryName::of(file) != EntryName::App {
        return None;
    }
    file.rsplit_once('.').map(|(stem, _)| stem)
}

/// A path that obeys every rule of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemotePath(String);

impl RemotePath {
    /// Validates a path to a file (app or upload).
    pub fn file(path: &str) -> Result<RemotePath, PathError> {
        let segments = split_checked(path)?;
        let (name, folders) = segments.split_last().ok_or(PathError::Empty)?;
        if folders.len() > MAX_FOLDER_DEPTH {
            return Err(PathError::TooDeep);
        }
        for folder in folders {
            check_folder(folder)?;
        }
        check_file_name(name)?;
        Ok(RemotePath(path.to_owned()))
    }

    /// Validates a path to a folder.
    pub fn folder(path: &str) -> Result<RemotePath, PathError> {
        let segments = split_checked(path)?;
        if segments.len() > MAX_FOLDER_DEPTH {
            return Err(PathError::TooDeep);
        }
        for folder in &segments {
            check_folder(folder)?;
        }
        Ok(RemotePath(path.to_owned()))
    }

    /// Decodes a URL path tail (each segment percent-encoded) and validates it as a file path.
    pub fn file_from_url(encoded: &str) -> Result<RemotePath, PathError> {
        RemotePath::file(&decode_url_path(encoded)?)
    }

    /// Decodes a URL path tail and validates it as a folder path.
    pub fn folder_from_url(encoded: &str) -> Result<RemotePath, PathError> {
        RemotePath::folder(&decode_url_path(encoded)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments, folders first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The folder part (`""` at the top level).
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
    }

    pub fn kind(&self) -> EntryName {
        EntryName::of(self.file_name())
    }

    /// The app name, when this is an app.
    pub fn app_name(&self) -> Option<&str> {
        app_name_of(&self.0)
    }

    /// The path as a URL tail with each segment percent-encoded.
    pub fn to_url_path(&self) -> String {
        self.segments()
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RemotePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn decode_url_path(encoded: &str) -> Result<String, PathError> {
    let mut out = Vec::new();
    for raw in encoded.split('/') {
        let seg = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| PathError::BadEncoding)?;
        // A `/` or `\` smuggled inside one encoded segment is never a separator.
        if seg.contains('/') {
            return Err(PathError::EmptySegment);
        }
        out.push(seg.into_owned());
    }
    Ok(out.join("/"))
}

fn split_checked(path: &str) -> Result<Vec<&str>, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let segments: Vec<&str> = path.split('/').collect();
    for seg in &segments {
        match *seg {
            "" => return Err(PathError::EmptySegment),
            "." | ".." => return Err(PathError::DotSegment),
            _ => {}
        }
    }
    // A Windows drive (`c:`) as the first segment is absolute there.
    if segments[0].len() == 2 && segments[0].ends_with(':') {
        return Err(PathError::Absolute);
    }
    Ok(segments)
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

fn check_folder(seg: &str) -> Result<(), PathError> {
    if !seg.bytes().all(is_name_char) {
        return Err(PathError::FolderName(seg.to_owned()));
    }
    if is_windows_reserved(seg) {
        return Err(PathError::ReservedName(seg.to_owned()));
    }
    Ok(())
}

/// `CON`, `nul.txt`, `Com1 .tar.gz`: Windows takes the part before the first dot, less trailing
/// spaces, in any case, as a device, so no file or folder can have such a name there.
fn is_windows_reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    WINDOWS_RESERVED.contains(&base.to_lowercase().as_str())
}

/// The same for two paths that a case-insensitive or Unicode-normalising filesystem (Windows,
/// macOS) takes for one file: `A.png` and `a.png`, `café` composed (NFC) and decomposed (NFD),
/// and the pairs that only full case folding joins: `ς`/`σ` (NTFS), `ſ`/`s` and `µ`/`μ` (APFS),
/// `K` (Kelvin) and `k`. Lowercasing alone keeps those apart (`ς` is already lower case).
///
/// It is Unicode's canonical caseless match (NFD, full case fold, then NFC so the key reads as
/// text): it may join a pair that one filesystem keeps apart (`ß`/`ss`), which costs a skipped
/// name, never two files written over each other.
pub fn collision_key(path: &str) -> String {
    // ASCII folds to its lower case and is its own NFC: the common case, without ICU's work.
    if path.is_ascii() {
        return path.to_ascii_lowercase();
    }
    let decomposed = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd().normalize(path);
    let folded = icu_casemap::CaseMapper::new().fold_string(&decomposed);
    icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
        .normalize(&folded)
        .into_owned()
}

/// A character that makes a name display as something it is not, or look like another name:
/// every bidi control (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069), every code point Unicode
/// says to render invisibly (zero-width space and joiners, word joiner, BOM, soft hyphen, Hangul
/// fillers, tags, …) except variation selectors, which only choose the look of the character
/// before them (the emoji `❤️`), and the line and paragraph separators, which break a log line.
pub fn is_deceptive_char(c: char) -> bool {
    use icu_properties::CodePointSetData;
    use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint, VariationSelector};
    // No ASCII character is a bidi control or invisible (controls are refused as such).
    if c.is_ascii() {
        return false;
    }
    if matches!(c, '\u{2028}' | '\u{2029}') {
        return true;
    }
    if CodePointSetData::new::<BidiControl>().contains(c) {
        return true;
    }
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        && !CodePointSetData::new::<VariationSelector>().contains(c)
}

/// `HELLOW~1.TXT`, `ab~12`, `PROGRA~1`: at most 8 characters before the only dot, ending in `~`
/// and digits, and at most 3 after it; in any case. Windows may have given exactly this name to
/// another file as its short name, so opening it there can open that other file.
fn is_short_name(name: &str) -> bool {
    let (base, ext) = name.split_once('.').unwrap_or((name, ""));
    if ext.contains('.') || ext.chars().count() > 3 || base.chars().count() > 8 {
        return false;
    }
    let Some((stem, digits)) = base.rsplit_once('~') else {
        return false;
    };
    !stem.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn check_file_name(name: &str) -> Result<(), PathError> {
    match EntryName::of(name) {
        EntryName::App => check_app_name(name)?,
        EntryName::Upload => check_upload_name(name)?,
    }
    if is_short_name(name) {
        return Err(PathError::ShortName(name.to_owned()));
    }
    Ok(())
}

fn check_app_name(name: &str) -> Result<(), PathError> {
    let bad = || PathError::AppName(name.to_owned());
    let (stem, ext) = name.rsplit_once('.').ok_or_else(bad)?;
    if ext != "html" && ext != "htmlclay" {
        return Err(bad());
    }
    if stem.is_empty()
        || !stem.bytes().all(is_name_char)
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
    {
        return Err(bad());
    }
    if is_windows_reserved(stem) {
        return Err(PathError::ReservedName(name.to_owned()));
    }
    Ok(())
}

fn check_upload_name(name: &str) -> Result<(), PathError> {
    let forbidden = |c: char| c.is_control() || "/\\<>:\"|?*".contains(c);
    if name.len() > MAX_NAME_BYTES
        || name.chars().any(forbidden)
        || name.starts_with('.')
        || name.ends_with('.')
        || name.ends_with(' ')
    {
        return Err(PathError::UploadName(name.to_owned()));
    }
    if name.chars().any(is_deceptive_char) {
        return Err(PathError::DeceptiveName(name.to_owned()));
    }
    if is_windows_reserved(name) {
        return Err(PathError::ReservedName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_paths() {
        for p in [
            "index.html",
            "blog/post.html",
            "a/b/c/d/e/deep.htmlclay",
            "assets/Logo Final (2).PNG",
            "uploads/über.txt",
        ] {
            assert!(RemotePath::file(p).is_ok(), "{p}");
        }
        assert!(RemotePath::folder("a/b/c/d/e").is_ok());
    }

    #[test]
    fn refuses_structural_faults_as_invalid_path() {
        for p in [
            "",
            "/etc/passwd",
            "../x.txt",
            "a/../x.txt",
            "a/./x.txt",
            "a//x.txt",
            "a\\x.txt",
            "a/x\0.txt",
            "c:/x.txt",
            "a/b/c/d/e/f/x.txt",
        ] {
            let err = RemotePath::file(p).unwrap_err();
            assert_eq!(err.code(), "invalid_path", "{p}: {err}");
        }
    }

    #[test]
    fn refuses_bad_names_as_invalid_name() {
        for p in [
            "Hello.html",
            "hello world.html",
            "-x.html",
            "x-.html",
            "a--b.html",
            "con.html",
            "Blog/x.html",
            ".hidden",
            "trailing.",
            "a|b.txt",
            "x.HTML",
        ] {
            let err = RemotePath::file(p).unwrap_err();
            assert_eq!(err.code(), "invalid_name", "{p}: {err}");
        }
        let long = "a".repeat(256);
        assert!(RemotePath::file(&long).is_err());
        assert!(RemotePath::file(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn windows_reserved_names_are_refused_for_every_file_and_folder() {
        for p in [
            "con.html",
            "CON",
            "nul.txt",
            "Nul.tar.gz",
            "aux",
            "com1.png",
            "COM9",
            "lpt1 .txt",
            "Com\u{b9}.txt",
            "CONIN$",
            "conout$.txt",
            "ConIn$.tar.gz",
            "conout$ .log",
            "prn/x.txt",
            "a/lpt3/x.png",
        ] {
            let err = RemotePath::file(p).unwrap_err();
            assert!(matches!(err, PathError::ReservedName(_)), "{p}: {err}");
            assert_eq!(err.code(), "invalid_name");
        }
        assert!(RemotePath::folder("a/con").is_err());
        // A trailing space is dropped by Windows, so such a name is not what it says.
        assert!(RemotePath::file("notes.txt ").is_err());
        // Only the whole base is a device: these are ordinary names.
        for p in [
            "console.txt",
            "com10.png",
            "nullable.txt",
            "my-con.html",
            "a/aux-x/f.txt",
            "conin.txt",
            "conin$x.txt",
        ] {
            assert!(RemotePath::file(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn names_one_filesystem_cannot_tell_apart_share_a_collision_key() {
        assert_eq!(collision_key("img/A.png"), collision_key("img/a.png"));
        assert_eq!(
            collision_key("caf\u{e9}.txt"),
            collision_key("cafe\u{301}.txt")
        );
        assert_eq!(
            collision_key("\u{dc}ber.txt"),
            collision_key("u\u{308}ber.txt")
        );
        // Pairs only full case folding joins (lowercase keeps them apart).
        assert_eq!(
            collision_key("\u{3c2}.txt"),
            collision_key("\u{3c3}.txt"),
            "ς/σ"
        );
        assert_eq!(
            collision_key("\u{3a3}.txt"),
            collision_key("\u{3c2}.txt"),
            "Σ/ς"
        );
        assert_eq!(
            collision_key("\u{17f}ee.txt"),
            collision_key("see.txt"),
            "ſ/s"
        );
        assert_eq!(
            collision_key("\u{b5}m.txt"),
            collision_key("\u{3bc}m.txt"),
            "µ/μ"
        );
        assert_eq!(
            collision_key("\u{212a}.txt"),
            collision_key("k.txt"),
            "Kelvin/k"
        );
        // Folding and normalisation together: a decomposed capital with its composed small.
        assert_eq!(
            collision_key("E\u{301}t\u{e9}.txt"),
            collision_key("\u{e9}t\u{e9}.txt")
        );
        assert_ne!(collision_key("a/x.png"), collision_key("b/x.png"));
        assert_ne!(collision_key("x.png"), collision_key("x.jpg"));
    }

    #[test]
    fn names_that_display_as_something_else_are_refused() {
        for p in [
            "photo\u{202e}gnp.exe",
            "\u{2067}rtl.txt",
            "a\u{202a}b.txt",
            "a\u{202b}b.txt",
            "a\u{202c}b.txt",
            "a\u{202d}b.txt",
            "a\u{2066}b.txt",
            "a\u{2068}b.txt",
            "a\u{2069}b.txt",
            "a\u{200e}b.txt",
            "a\u{200f}b.txt",
            "a\u{61c}b.txt",
            "zero\u{200b}width.txt",
            "a\u{200c}b.txt",
            "a\u{200d}b.txt",
            "a\u{2060}b.txt",
            "\u{feff}bom.txt",
            "soft\u{ad}hyphen.txt",
            "hangul\u{3164}filler.txt",
            "tag\u{e0041}.txt",
            "two\u{2028}lines.txt",
            "two\u{2029}paragraphs.txt",
            "docs/photo\u{202e}gnp.exe",
        ] {
            let err = RemotePath::file(p).unwrap_err();
            assert!(matches!(err, PathError::DeceptiveName(_)), "{p:?}: {err}");
            assert_eq!(err.code(), "invalid_name");
        }
        // Percent-encoded, as a server receives them.
        let err = RemotePath::file_from_url("photo%E2%80%AEgnp.exe").unwrap_err();
        assert!(matches!(err, PathError::DeceptiveName(_)), "{err}");
        // Right-to-left text itself is fine, and so are emoji with a variation selector.
        for p in [
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd}.txt",
            "\u{645}\u{644}\u{641}.pdf",
            "\u{2764}\u{fe0f}.png",
            "caf\u{e9}.txt",
        ] {
            assert!(RemotePath::file(p).is_ok(), "{p:?}");
        }
    }

    #[test]
    fn windows_short_names_are_refused() {
        for p in [
            "HELLOW~1.TXT",
            "hellow~1.txt",
            "PROGRA~1",
            "a/b/ab~12.png",
            "x~9",
            "HE1A2B~1.HTM",
        ] {
            let err = RemotePath::file(p).unwrap_err();
            assert!(matches!(err, PathError::ShortName(_)), "{p}: {err}");
            assert_eq!(err.code(), "invalid_name");
        }
        // Not the 8.3 form: a long base, a long extension, two dots, no digits, nothing before `~`.
        for p in [
            "helloworld~1.txt",
            "hellow~1.text",
            "a~1.tar.gz",
            "backup~.txt",
            "~1.txt",
            "x~a.txt",
            "notes~draft.md",
        ] {
            assert!(RemotePath::file(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn decodes_url_segments_before_checking() {
        assert_eq!(
            RemotePath::file_from_url("a/my%20file.txt")
                .unwrap()
                .as_str(),
            "a/my file.txt"
        );
        assert_eq!(
            RemotePath::file_from_url("%2e%2e/x.txt").unwrap_err(),
            PathError::DotSegment
        );
        assert!(RemotePath::file_from_url("a%2fb.txt").is_err());
        assert!(RemotePath::file_from_url("a%5cb.txt").is_err());
        assert!(RemotePath::file_from_url("x%00.txt").is_err());
    }

    #[test]
    fn url_form_round_trips() {
        let p = RemotePath::file("docs/a b%c?.txt").unwrap_err();
        assert_eq!(p.code(), "invalid_name");
        let p = RemotePath::file("docs/a b%c.txt").unwrap();
        assert_eq!(p.to_url_path(), "docs/a%20b%25c.txt");
        assert_eq!(RemotePath::file_from_url(&p.to_url_path()).unwrap(), p);
    }

    #[test]
    fn knows_apps_by_name() {
        assert_eq!(app_name_of("deep/x/hello.html"), Some("hello"));
        assert_eq!(app_name_of("x.HTMLCLAY"), Some("x"));
        assert_eq!(app_name_of("x.txt"), None);
        let p = RemotePath::file("blog/post.html").unwrap();
        assert_eq!(p.parent(), "blog");
        assert_eq!(p.file_name(), "post.html");
        assert_eq!(p.app_name(), Some("post"));
    }

    proptest::proptest! {
        #[test]
        fn valid_paths_never_escape(s in "[a-z./\\\\%0-9]{0,40}") {
            if let Ok(p) = RemotePath::file_from_url(&s) {
                proptest::prop_assert!(!p.as_str().starts_with('/'));
                proptest::prop_assert!(p.segments().all(|seg| seg != ".." && seg != "." && !seg.is_empty()));
                proptest::prop_assert!(!p.as_str().contains('\\'));
            }
        }
    }
}
