//! INI configuration files with `file:line: problem` errors.
//!
//! Every daemon of the suite reads one INI file made of sections such as
//! `[system]` or `[tunnel_profile "NAME"]` holding `key = value` lines.
//! Users need errors that point at a line, which `rust-ini` does not give for
//! values, so loading is done in two passes over the same text:
//!
//! 1. a line scan classifies every line (blank, comment, section header,
//!    `key = value`) and records its line number; anything else, a key
//!    before the first section, a duplicate key in one section, an
//!    unterminated quote or a `\` line continuation is reported here with
//!    its line;
//! 2. `rust-ini` (quotes on, backslash escapes off, so that secrets keep
//!    their `\`) parses a normalised copy of the text holding exactly the
//!    header and `key = value` lines at their original line positions, and
//!    its values are used.
//!
//! The two results are then zipped; if `rust-ini` ever saw a different
//! structure than the scan (which the normalisation is meant to rule out),
//! loading fails at the first line where they disagree rather than guessing.
//!
//! Section headers are `[kind]` or `[kind "NAME"]`: `rust-ini` keeps the
//! whole bracket text as the section name, so the kind/name split is done
//! by the scan. Values may be quoted (`secret = "two words"`) to keep leading
//! or trailing blanks; comments start with `#` or `;` at the beginning of a
//! line (after optional blanks), never after a value, so `#` may appear in a
//! secret.
//!
//! The `parse_*` helpers turn an [`IniEntry`] into a typed value or a
//! [`ConfigError`] carrying the entry's line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem: where it is and what is wrong.
///
/// Displayed as `path:line: message`, or `path: message` when no line
/// applies (unreadable file, missing required section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong, in words for the operator.
    pub message: String,
}

impl ConfigError {
    /// An error on line `line` (1-based) of `path`.
    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.to_path_buf(), line: Some(line), message: message.into() }
    }

    /// An error about the whole file `path`.
    pub fn file(path: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.to_path_buf(), line: None, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One `key = value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniEntry {
    /// The key, without surrounding blanks (case is kept).
    pub key: String,
    /// The value, trimmed, with one level of surrounding quotes removed.
    pub value: String,
    /// 1-based line number of the entry.
    pub line: usize,
}

/// One section: a `[kind]` or `[kind "NAME"]` header and its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniSection {
    /// The word before the name, e.g. `system` or `tunnel_profile`.
    pub kind: String,
    /// The quoted name, e.g. `default` in `[tunnel_profile "default"]`.
    pub name: Option<String>,
    /// 1-based line number of the header.
    pub line: usize,
    /// The entries, in file order; keys are unique within a section.
    pub entries: Vec<IniEntry>,
}

impl IniSection {
    /// The header as written: `[kind "name"]` or `[kind]`.
    pub fn header_text(&self) -> String {
        match &self.name {
            Some(n) => format!("[{} \"{}\"]", self.kind, n),
            None => format!("[{}]", self.kind),
        }
    }

    /// The entry with key `key`, if present.
    pub fn get(&self, key: &str) -> Option<&IniEntry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// A parsed INI file: its sections in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniFile {
    /// The file the text came from (used in every error).
    pub path: PathBuf,
    /// The sections in file order; the same header may occur twice (callers
    /// decide whether that is a duplicate).
    pub sections: Vec<IniSection>,
}

/// The largest file `IniFile::load` accepts, in octets.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl IniFile {
    /// Checks the section headers of a daemon's file: every kind is one of
    /// `kinds`; `unnamed` (e.g. `system`) takes no name and every other kind
    /// needs one; no header occurs twice.
    ///
    /// # Errors
    /// `file:line: …` naming the unknown kind, the missing or extra name, or
    /// the duplicate header and the line of its first occurrence.
    pub fn check_sections(&self, kinds: &[&str], unnamed: &str) -> Result<(), ConfigError> {
        let path = self.path.as_path();
        let mut seen: std::collections::BTreeMap<(&str, Option<&str>), usize> = std::collections::BTreeMap::new();
        for s in &self.sections {
            if !kinds.contains(&s.kind.as_str()) {
                return Err(ConfigError::at(path, s.line, format!("unknown section kind `{}` (expected one of {})", s.kind, kinds.join(", "))));
            }
            match (s.kind == unnamed, &s.name) {
                (true, Some(_)) => return Err(ConfigError::at(path, s.line, format!("[{unnamed}] takes no name"))),
                (false, None) => return Err(ConfigError::at(path, s.line, format!("section needs a name: [{} \"NAME\"]", s.kind))),
                _ => {}
            }
            if let Some(first) = seen.insert((s.kind.as_str(), s.name.as_deref()), s.line) {
                return Err(ConfigError::at(path, s.line, format!("duplicate section {} (first at line {first})", s.header_text())));
            }
        }
        Ok(())
    }

    /// Reads and parses `path`.
    ///
    /// # Errors
    /// `path: …` when the file cannot be read, is larger than
    /// [`MAX_FILE_BYTES`] or is not UTF-8 (with the line of the first bad
    /// octet); otherwise the errors of [`IniFile::parse_str`].
    pub fn load(path: &Path) -> Result<IniFile, ConfigError> {
        let meta = std::fs::metadata(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(ConfigError::file(path, "file too large"));
        }
        let bytes = std::fs::read(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
        match String::from_utf8(bytes) {
            Ok(text) => IniFile::parse_str(path, &text),
            Err(e) => {
                let good = e.utf8_error().valid_up_to();
                let prefix = e.as_bytes().get(..good).unwrap_or(&[]);
                let line = prefix.iter().filter(|&&b| b == b'\n').count().saturating_add(1);
                Err(ConfigError::at(path, line, "not valid UTF-8 text"))
            }
        }
    }

    /// Parses `text` as the content of `path` (`path` is only used in errors).
    ///
    /// # Errors
    /// `path:line: …` for a line that is neither blank, a comment, a section
    /// header nor `key = value`; a malformed header; a key before the first
    /// section; a duplicate key within a section; an empty key; an
    /// unterminated quote; a `\` at the end of a line.
    pub fn parse_str(path: &Path, text: &str) -> Result<IniFile, ConfigError> {
        let scanned = scan(path, text)?;
        let normalised = normalise(&scanned, text.lines().count());
        let opt = ini::ParseOption {
            enabled_quote: true,
            enabled_escape: false,
            enabled_indented_mutiline_value: false,
            enabled_preserve_key_leading_whitespace: false,
        };
        let parsed = ini::Ini::load_from_str_opt(&normalised, opt).map_err(|e| ConfigError::at(path, e.line, format!("syntax error: {}", e.msg)))?;
        zip(path, scanned, &parsed)
    }

    /// Sections of kind `kind`, in file order.
    pub fn sections_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a IniSection> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind)
    }
}

/// What the line scan saw on one line.
enum ScanLine {
    Header { raw: String, kind: String, name: Option<String> },
    Entry { key: String, raw_value: String },
}

/// Line scan: every meaningful line with its 1-based number.
fn scan(path: &Path, text: &str) -> Result<Vec<(usize, ScanLine)>, ConfigError> {
    let mut out = Vec::new();
    let mut in_section = false;
    let mut keys_seen: Vec<(String, usize)> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            let (kind, name) = parse_header(trimmed).map_err(|m| ConfigError::at(path, line, m))?;
            in_section = true;
            keys_seen.clear();
            let raw = match &name {
                Some(n) => format!("[{kind} \"{n}\"]"),
                None => format!("[{kind}]"),
            };
            out.push((line, ScanLine::Header { raw, kind, name }));
            continue;
        }
        let (key, raw_value) = split_entry(trimmed).map_err(|m| ConfigError::at(path, line, m))?;
        if !in_section {
            return Err(ConfigError::at(path, line, format!("`{key}` outside any section")));
        }
        if let Some((_, first)) = keys_seen.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::at(path, line, format!("duplicate key `{key}` (first given at line {first})")));
        }
        keys_seen.push((key.clone(), line));
        out.push((line, ScanLine::Entry { key, raw_value }));
    }
    Ok(out)
}

/// Splits a `[kind]` / `[kind "NAME"]` header line (already trimmed).
fn parse_header(trimmed: &str) -> Result<(String, Option<String>), String> {
    let inner = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(|| "section header must end with `]`".to_string())?.trim();
    let (kind, rest) = match inner.find(|c: char| c.is_whitespace() || c == '"') {
        Some(pos) => (inner.get(..pos).unwrap_or(""), inner.get(pos..).unwrap_or("").trim()),
        None => (inner, ""),
    };
    if kind.is_empty() {
        return Err("empty section kind".into());
    }
    if !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("bad section kind `{kind}`"));
    }
    if rest.is_empty() {
        return Ok((kind.to_string(), None));
    }
    let name = rest.strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or_else(|| format!("section name must be in double quotes: [{kind} \"NAME\"]"))?;
    if name.is_empty() {
        return Err("empty section name".into());
    }
    if let Some(c) = name.chars().find(|&c| c == '"' || c == '[' || c == ']' || c.is_control()) {
        return Err(format!("character {c:?} not allowed in a section name"));
    }
    Ok((kind.to_string(), Some(name.to_string())))
}

/// Splits `key = value` (or `key: value`, as `rust-ini` also accepts).
fn split_entry(trimmed: &str) -> Result<(String, String), String> {
    let pos = trimmed.find(['=', ':']).ok_or_else(|| format!("expected `key = value` or a [section] header, found `{trimmed}`"))?;
    let key = trimmed.get(..pos).unwrap_or("").trim();
    let value = trimmed.get(pos.saturating_add(1)..).unwrap_or("").trim();
    if key.is_empty() {
        return Err("missing key before `=`".into());
    }
    if let Some(c) = key.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        return Err(format!("character {c:?} not allowed in key `{key}`"));
    }
    if value.ends_with('\\') {
        return Err("line continuation with `\\` is not supported".into());
    }
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            if !rest.contains(quote) {
                return Err(format!("unterminated {quote} quote"));
            }
        }
    }
    Ok((key.to_string(), value.to_string()))
}

/// Text for `rust-ini`: each meaningful line at its original position, every
/// other line empty, so `rust-ini`'s own line numbers stay right.
fn normalise(scanned: &[(usize, ScanLine)], line_count: usize) -> String {
    let mut out = String::new();
    let mut next = 1usize;
    for (line, item) in scanned {
        while next < *line {
            out.push('\n');
            next = next.saturating_add(1);
        }
        match item {
            ScanLine::Header { raw, .. } => out.push_str(raw),
            ScanLine::Entry { key, raw_value } => {
                out.push_str(key);
                out.push_str(" = ");
                out.push_str(raw_value);
            }
        }
        out.push('\n');
        next = next.saturating_add(1);
    }
    while next <= line_count {
        out.push('\n');
        next = next.saturating_add(1);
    }
    out
}

/// Combines the scan (structure, lines) with `rust-ini`'s values.
fn zip(path: &Path, scanned: Vec<(usize, ScanLine)>, parsed: &ini::Ini) -> Result<IniFile, ConfigError> {
    let mut sections: Vec<IniSection> = Vec::new();
    let mut theirs = parsed.iter().filter(|(name, props)| name.is_some() || !props.is_empty());
    let mut values: Vec<(String, String)> = Vec::new();
    let mismatch = |line: usize| ConfigError::at(path, line, "cannot parse this line");
    for (line, item) in scanned {
        match item {
            ScanLine::Header { raw, kind, name } => {
                let (their_name, props) = theirs.next().ok_or_else(|| mismatch(line))?;
                let expected = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
                if their_name != Some(expected) {
                    return Err(mismatch(line));
                }
                values = props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                values.reverse();
                sections.push(IniSection { kind, name, line, entries: Vec::new() });
            }
            ScanLine::Entry { key, .. } => {
                let (their_key, value) = values.pop().ok_or_else(|| mismatch(line))?;
                let section = sections.last_mut().ok_or_else(|| mismatch(line))?;
                if their_key != key || value.contains('\n') {
                    return Err(mismatch(line));
                }
                section.entries.push(IniEntry { key, value, line });
            }
        }
    }
    if let Some(s) = sections.last() {
        if !values.is_empty() {
            return Err(mismatch(s.line));
        }
    }
    if theirs.next().is_some() {
        return Err(ConfigError::file(path, "cannot parse the file"));
    }
    Ok(IniFile { path: path.to_path_buf(), sections })
}

/// An error on `entry`'s line saying its value is wrong.
pub fn value_error(path: &Path, entry: &IniEntry, expected: &str) -> ConfigError {
    ConfigError::at(path, entry.line, format!("bad value `{}` for `{}`: expected {expected}", entry.value, entry.key))
}

/// Parses a boolean: `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`
/// (case-insensitive).
///
/// # Errors
/// Any other value, at the entry's line.
pub fn parse_bool(path: &Path, entry: &IniEntry) -> Result<bool, ConfigError> {
    match entry.value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(value_error(path, entry, "yes or no")),
    }
}

/// Parses an unsigned integer, decimal or `0x` hexadecimal, into u64.
fn parse_uint(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    }
}

/// Parses an integer (decimal or `0x` hex) in `lo..=hi`.
///
/// # Errors
/// Not a number or out of range, at the entry's line.
pub fn parse_u32_range(path: &Path, entry: &IniEntry, lo: u32, hi: u32) -> Result<u32, ConfigError> {
    parse_u64_range(path, entry, u64::from(lo), u64::from(hi)).and_then(|v| u32::try_from(v).map_err(|_| value_error(path, entry, "a smaller number")))
}

/// Parses an integer (decimal or `0x` hex) in `lo..=hi`.
///
/// # Errors
/// Not a number or out of range, at the entry's line.
pub fn parse_u64_range(path: &Path, entry: &IniEntry, lo: u64, hi: u64) -> Result<u64, ConfigError> {
    match parse_uint(&entry.value) {
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(value_error(path, entry, &format!("an integer from {lo} to {hi}"))),
    }
}

/// Parses an integer in `lo..=hi` that must fit a u16.
///
/// # Errors
/// Not a number or out of range, at the entry's line.
pub fn parse_u16_range(path: &Path, entry: &IniEntry, lo: u16, hi: u16) -> Result<u16, ConfigError> {
    let v = parse_u64_range(path, entry, u64::from(lo), u64::from(hi))?;
    u16::try_from(v).map_err(|_| value_error(path, entry, "a smaller number"))
}

/// The unit a bare number means in [`parse_duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationUnit {
    /// Milliseconds.
    Millis,
    /// Seconds.
    Secs,
}

/// Parses a duration: a bare integer in `unit`, or an integer followed by
/// `ms`, `s`, `m` (minutes) or `h`, within `lo..=hi`.
///
/// # Errors
/// Malformed, overflowing or out of range, at the entry's line.
pub fn parse_duration(path: &Path, entry: &IniEntry, unit: DurationUnit, lo: Duration, hi: Duration) -> Result<Duration, ConfigError> {
    let text = entry.value.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let number: Option<u64> = if digits.is_empty() { None } else { digits.parse().ok() };
    let millis_per: Option<u64> = match (suffix.trim(), unit) {
        ("", DurationUnit::Millis) | ("ms", _) => Some(1),
        ("", DurationUnit::Secs) | ("s", _) => Some(1_000),
        ("m", _) => Some(60_000),
        ("h", _) => Some(3_600_000),
        _ => None,
    };
    let value = number.zip(millis_per).and_then(|(n, per)| n.checked_mul(per)).map(Duration::from_millis);
    let range = || {
        let show = |d: Duration| match unit {
            DurationUnit::Millis => format!("{} ms", d.as_millis()),
            DurationUnit::Secs => format!("{} s", d.as_secs()),
        };
        format!("a duration from {} to {}", show(lo), show(hi))
    };
    match value {
        Some(d) if d >= lo && d <= hi => Ok(d),
        _ => Err(value_error(path, entry, &range())),
    }
}

/// Maps the value to one of `choices` (`(word, value)`, case-insensitive).
///
/// # Errors
/// A word not in `choices`, at the entry's line, listing the choices.
pub fn parse_choice<T: Copy>(path: &Path, entry: &IniEntry, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    let lower = entry.value.to_ascii_lowercase();
    choices.iter().find(|(word, _)| *word == lower).map(|(_, v)| *v).ok_or_else(|| {
        let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
        value_error(path, entry, &format!("one of {}", words.join(", ")))
    })
}

/// Returns the value if it is not empty.
///
/// # Errors
/// An empty value, at the entry's line.
pub fn parse_nonempty(path: &Path, entry: &IniEntry) -> Result<String, ConfigError> {
    if entry.value.is_empty() {
        Err(value_error(path, entry, "a non-empty string"))
    } else {
        Ok(entry.value.clone())
    }
}

/// Parses a network interface name: 1 to 15 octets (Linux `IFNAMSIZ` - 1),
/// no `/`, `:` or blanks, not `.` or `..`.
///
/// # Errors
/// Any other value, at the entry's line.
pub fn parse_ifname(path: &Path, entry: &IniEntry) -> Result<String, ConfigError> {
    let v = entry.value.as_str();
    let ok = !v.is_empty() && v.len() <= 15 && v != "." && v != ".." && v.chars().all(|c| c.is_ascii_graphic() && c != '/' && c != ':');
    if ok {
        Ok(v.to_string())
    } else {
        Err(value_error(path, entry, "an interface name of 1 to 15 characters without `/`, `:` or blanks"))
    }
}

/// Parses octets written as hex: `0x01020304`, `01020304` or
/// `01:02:03:04` (colons between every octet). An empty value, `0` or
/// `none` gives no octets. The result length must be in `lengths`.
///
/// # Errors
/// Malformed hex or a length not in `lengths`, at the entry's line.
pub fn parse_hex_octets(path: &Path, entry: &IniEntry, lengths: &[usize]) -> Result<Vec<u8>, ConfigError> {
    let allowed: Vec<String> = lengths.iter().map(|l| l.to_string()).collect();
    let err = || value_error(path, entry, &format!("hex octets ({} of them)", allowed.join(", ")));
    let v = entry.value.trim();
    let octets = if v.is_empty() || v == "0" || v.eq_ignore_ascii_case("none") {
        Vec::new()
    } else if v.contains(':') {
        v.split(':').map(|p| if p.len() == 2 { u8::from_str_radix(p, 16).ok() } else { None }).collect::<Option<Vec<u8>>>().ok_or_else(err)?
    } else {
        let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")).unwrap_or(v);
        if hex.is_empty() || hex.len() & 1 != 0 || !hex.is_ascii() {
            return Err(err());
        }
        (0..hex.len() / 2)
            .map(|i| {
                let at = i.saturating_mul(2);
                hex.get(at..at.saturating_add(2)).and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(err)?
    };
    if lengths.contains(&octets.len()) {
        Ok(octets)
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.conf")
    }

    fn entry(value: &str) -> IniEntry {
        IniEntry { key: "k".into(), value: value.into(), line: 7 }
    }

    #[test]
    fn sections_entries_and_lines() {
        let text = "# comment\n; other\n\n[system]\nudp_port = 1701\n  trace_flags=protocol,fsm\n\n[tunnel_profile \"default\"]\r\nsecret = \"a #b\\c \"\nhost_name: lac\n";
        let f = IniFile::parse_str(p(), text).unwrap();
        assert_eq!(f.sections.len(), 2);
        let s = &f.sections[0];
        assert_eq!((s.kind.as_str(), s.name.as_deref(), s.line), ("system", None, 4));
        assert_eq!(s.entries[0], IniEntry { key: "udp_port".into(), value: "1701".into(), line: 5 });
        assert_eq!(s.entries[1].value, "protocol,fsm");
        assert_eq!(s.entries[1].line, 6);
        let t = &f.sections[1];
        assert_eq!((t.kind.as_str(), t.name.as_deref(), t.line), ("tunnel_profile", Some("default"), 8));
        assert_eq!(t.get("secret").unwrap().value, "a #b\\c ");
        assert_eq!(t.get("secret").unwrap().line, 9);
        assert_eq!(t.get("host_name").unwrap().value, "lac");
        assert_eq!(t.get("host_name").unwrap().line, 10);
    }

    #[test]
    fn repeated_headers_are_kept_in_order() {
        let text = "[a \"x\"]\nk=1\n[b]\n[a \"x\"]\nk=2\n";
        let f = IniFile::parse_str(p(), text).unwrap();
        let lines: Vec<usize> = f.sections.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 3, 4]);
        assert_eq!(f.sections[0].entries[0].value, "1");
        assert_eq!(f.sections[2].entries[0].value, "2");
        assert_eq!(f.sections_of("a").count(), 2);
    }

    #[test]
    fn names_with_slash_and_blanks() {
        let f = IniFile::parse_str(p(), "[session \"t1/s 1\"]\n").unwrap();
        assert_eq!(f.sections[0].name.as_deref(), Some("t1/s 1"));
    }

    fn err_line(text: &str) -> (Option<usize>, String) {
        let e = IniFile::parse_str(p(), text).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn errors_carry_lines() {
        assert_eq!(err_line("k = v\n").0, Some(1));
        assert!(err_line("k = v\n").1.contains("outside any section"));
        let (line, msg) = err_line("[s]\na = 1\n\na = 2\n");
        assert_eq!(line, Some(4));
        assert!(msg.contains("duplicate key `a` (first given at line 2)"), "{msg}");
        assert_eq!(err_line("[s]\njunk\nb = 1\n").0, Some(2));
        assert_eq!(err_line("[s]\n= 1\n").0, Some(2));
        assert_eq!(err_line("[s\n").0, Some(1));
        assert_eq!(err_line("[s]\n[t x]\n").0, Some(2));
        assert_eq!(err_line("[s]\n[t \"\"]\n").0, Some(2));
        assert_eq!(err_line("[s]\n[]\n").0, Some(2));
        assert_eq!(err_line("[s]\na = \"open\nb = 2\"\n").0, Some(2));
        assert_eq!(err_line("[s]\na = one \\\n two\n").0, Some(2));
        assert_eq!(err_line("[s]\nbad key = 1\n").0, Some(2));
    }

    #[test]
    fn same_key_in_two_sections_is_fine() {
        let f = IniFile::parse_str(p(), "[a]\nk=1\n[b]\nk=2\n").unwrap();
        assert_eq!(f.sections[1].entries[0].line, 4);
    }

    #[test]
    fn display_forms() {
        let e = ConfigError::at(Path::new("/etc/x.conf"), 3, "bad");
        assert_eq!(e.to_string(), "/etc/x.conf:3: bad");
        let e = ConfigError::file(Path::new("/etc/x.conf"), "missing");
        assert_eq!(e.to_string(), "/etc/x.conf: missing");
    }

    #[test]
    fn load_reports_missing_file_and_bad_utf8() {
        let dir = std::env::temp_dir().join(format!("common-ini-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.conf");
        let e = IniFile::load(&missing).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.message.starts_with("cannot read"));
        let bad = dir.join("bad.conf");
        std::fs::write(&bad, b"[s]\na = 1\nb = \xff\n").unwrap();
        assert_eq!(IniFile::load(&bad).unwrap_err().line, Some(3));
        let good = dir.join("good.conf");
        std::fs::write(&good, b"[s]\na = 1\n").unwrap();
        assert_eq!(IniFile::load(&good).unwrap().sections[0].entries[0].value, "1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bools() {
        for v in ["yes", "TRUE", "on", "1"] {
            assert!(parse_bool(p(), &entry(v)).unwrap());
        }
        for v in ["no", "False", "off", "0"] {
            assert!(!parse_bool(p(), &entry(v)).unwrap());
        }
        let e = parse_bool(p(), &entry("maybe")).unwrap_err();
        assert_eq!(e.to_string(), "t.conf:7: bad value `maybe` for `k`: expected yes or no");
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u32_range(p(), &entry("10"), 1, 10).unwrap(), 10);
        assert_eq!(parse_u32_range(p(), &entry("0x10"), 1, 100).unwrap(), 16);
        assert!(parse_u32_range(p(), &entry("11"), 1, 10).is_err());
        assert!(parse_u32_range(p(), &entry("0"), 1, 10).is_err());
        assert!(parse_u32_range(p(), &entry("-1"), 0, 10).is_err());
        assert!(parse_u32_range(p(), &entry("99999999999999999999999"), 0, 10).is_err());
        assert!(parse_u32_range(p(), &entry("0x"), 0, 10).is_err());
        assert!(parse_u32_range(p(), &entry(""), 0, 10).is_err());
        assert_eq!(parse_u16_range(p(), &entry("65535"), 0, 65535).unwrap(), 65535);
        assert_eq!(parse_u16_range(p(), &entry("1"), 2, 9).unwrap_err().line, Some(7));
    }

    #[test]
    fn durations() {
        let lo = Duration::from_millis(0);
        let hi = Duration::from_secs(3600);
        let d = |v: &str, u| parse_duration(p(), &entry(v), u, lo, hi);
        assert_eq!(d("60", DurationUnit::Secs).unwrap(), Duration::from_secs(60));
        assert_eq!(d("1500", DurationUnit::Millis).unwrap(), Duration::from_millis(1500));
        assert_eq!(d("2s", DurationUnit::Millis).unwrap(), Duration::from_secs(2));
        assert_eq!(d("250ms", DurationUnit::Secs).unwrap(), Duration::from_millis(250));
        assert_eq!(d("5m", DurationUnit::Secs).unwrap(), Duration::from_secs(300));
        assert_eq!(d("1h", DurationUnit::Secs).unwrap(), Duration::from_secs(3600));
        assert!(d("2h", DurationUnit::Secs).is_err());
        assert!(d("s", DurationUnit::Secs).is_err());
        assert!(d("1x", DurationUnit::Secs).is_err());
        assert!(d("-1", DurationUnit::Secs).is_err());
        assert!(d("99999999999999999999h", DurationUnit::Secs).is_err());
        let e = parse_duration(p(), &entry("1"), DurationUnit::Millis, Duration::from_millis(100), hi).unwrap_err();
        assert!(e.message.contains("from 100 ms to 3600000 ms"), "{}", e.message);
    }

    #[test]
    fn choices_strings_ifnames() {
        let c = [("udp", 1u8), ("ip", 2u8)];
        assert_eq!(parse_choice(p(), &entry("IP"), &c).unwrap(), 2);
        assert!(parse_choice(p(), &entry("tcp"), &c).unwrap_err().message.contains("one of udp, ip"));
        assert!(parse_nonempty(p(), &entry("")).is_err());
        assert_eq!(parse_nonempty(p(), &entry("x")).unwrap(), "x");
        assert_eq!(parse_ifname(p(), &entry("l2tpeth0")).unwrap(), "l2tpeth0");
        for bad in ["", "a/b", "a b", "0123456789abcdef", ".."] {
            assert!(parse_ifname(p(), &entry(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_octets() {
        let l = [0, 4, 8];
        assert_eq!(parse_hex_octets(p(), &entry("01:02:03:0a"), &l).unwrap(), vec![1, 2, 3, 10]);
        assert_eq!(parse_hex_octets(p(), &entry("0x01020304"), &l).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_hex_octets(p(), &entry("0102030405060708"), &l).unwrap().len(), 8);
        assert_eq!(parse_hex_octets(p(), &entry("0"), &l).unwrap(), Vec::<u8>::new());
        for bad in ["010203", "0x0102030", "01:2:03:04", "zz:00:00:00", "0x", "01::02:03", "ééé"] {
            assert!(parse_hex_octets(p(), &entry(bad), &l).is_err(), "{bad}");
        }
    }
}
