//! pppd's secrets files, `chap-secrets` and `pap-secrets`, so that existing
//! files work unchanged.
//!
//! Both files have the same format (pppd(8), "AUTHENTICATION"): one entry
//! per line, `client server secret [address ...]`, words separated by
//! blanks. Words follow pppd's rules:
//!
//! - `#` starts a comment running to the end of the line (also right after
//!   a word); a `\` before a newline joins the next line to this one;
//! - a word in double or single quotes may hold blanks and `#`; `""` is
//!   the empty word;
//! - `\` escapes work inside and outside quotes: `\a \b \f \n \r \s`
//!   (space) `\t`, `\` and up to three octal digits, `\x` and up to two hex
//!   digits, and `\` before any other character stands for that character.
//!
//! The fields:
//!
//! - client and server: a name, or `*` for any name. Names are octets and
//!   compared exactly (case matters), as pppd does;
//! - secret: the password, or `@/absolute/path` to read it from that file
//!   (its first word, with the same rules);
//! - addresses (optional): the IPv4 addresses the client may use, tried in
//!   order, the first that matches deciding: `a.b.c.d`, `a.b.c.d/n`
//!   (1..=32), either one preceded by `!` to refuse it, `*` for any address
//!   (ends the list), `-` for no address at all (ends the list; words after
//!   it are ignored, as in pppd). The first permitted single address is the
//!   user's static address ([`Entry::static_address`]).
//!
//! Lookup ([`Secrets::secret_for`]) keeps pppd's precedence: an entry naming
//! the client exactly beats one naming the server exactly, which beats one
//! with `*` for both; among equals, the first in the file wins.
//!
//! What pppd accepts and this module refuses, each with a `file:line` error:
//! host or network names in the address list (no DNS at run time), the
//! `/n+` form (address offset by the pppd unit number), per-user pppd
//! options after `--`, the `@login` secret (check against the system
//! password database), a line with fewer than three words (pppd skips it
//! silently), a quoted word running past the end of its line, and a word
//! longer than [`MAX_WORD`] octets (pppd truncates it).
//!
//! Two meanings differ from pppd, both documented in `propppd.conf(5)`:
//! an entry with no address column lets the client have any address the
//! server assigns (pppd, requiring authentication, would refuse every
//! address), and an empty secret is just an empty secret (pppd's PAP
//! accepts any password for it).

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use common::ini::ConfigError;

/// Default path of the CHAP (and MS-CHAPv2) secrets file.
pub const DEFAULT_CHAP_SECRETS: &str = "/etc/ppp/chap-secrets";

/// Default path of the PAP secrets file.
pub const DEFAULT_PAP_SECRETS: &str = "/etc/ppp/pap-secrets";

/// Longest word accepted, in octets (pppd's `MAXWORDLEN`).
pub const MAX_WORD: usize = 1024;

/// Largest secrets file (or `@/file`) read, in octets.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A client or server field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    /// `*`: any name.
    Any,
    /// This exact name (octets, case-sensitive).
    Exact(Vec<u8>),
}

impl NamePattern {
    /// True when `name` matches.
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            NamePattern::Any => true,
            NamePattern::Exact(n) => n == name,
        }
    }

    /// True for a name (not `*`).
    pub fn is_exact(&self) -> bool {
        matches!(self, NamePattern::Exact(_))
    }
}

/// One rule of an address list: `[!]a.b.c.d[/n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrRule {
    /// False for a `!` rule (the address is refused).
    pub permit: bool,
    /// The network address (host bits cleared).
    pub net: Ipv4Addr,
    /// Prefix length, 0..=32 (`*` is `0.0.0.0/0`).
    pub prefix_len: u8,
}

impl AddrRule {
    /// True when `addr` is inside the rule's prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32u32.saturating_sub(u32::from(self.prefix_len))).unwrap_or(0);
        u32::from(addr) & mask == u32::from(self.net)
    }
}

/// The address column of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// No address column: any address the server assigns.
    Unspecified,
    /// `-` first: the client may not use IP.
    NoneAllowed,
    /// Rules tried in order; an address no rule matches is refused.
    Rules(Vec<AddrRule>),
}

/// One line of a secrets file.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The client field (the name of the side that authenticates itself).
    pub client: NamePattern,
    /// The server field (the name of the authenticator).
    pub server: NamePattern,
    /// The secret, octets, after `@/file` indirection.
    pub secret: Vec<u8>,
    /// The address column.
    pub addresses: Addresses,
    /// 1-based line of the entry's first word.
    pub line: usize,
}

impl fmt::Debug for Entry {
    /// Like a derived `Debug`, but never shows the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("client", &self.client)
            .field("server", &self.server)
            .field("secret", &"<hidden>")
            .field("addresses", &self.addresses)
            .field("line", &self.line)
            .finish()
    }
}

impl Entry {
    /// The user's static address: the first permitted single-address rule
    /// (`/32`), unless it is loopback, multicast or `240.0.0.0/4`.
    pub fn static_address(&self) -> Option<Ipv4Addr> {
        match &self.addresses {
            Addresses::Rules(rules) => rules.iter().find(|r| r.permit && r.prefix_len == 32 && !bad_peer_addr(r.net)).map(|r| r.net),
            Addresses::Unspecified | Addresses::NoneAllowed => None,
        }
    }

    /// True when the client may use `addr` as its address: never for
    /// `0.0.0.0/8`, loopback, multicast or `240.0.0.0/4`; otherwise as the
    /// address column says.
    pub fn permits(&self, addr: Ipv4Addr) -> bool {
        if bad_peer_addr(addr) {
            return false;
        }
        match &self.addresses {
            Addresses::Unspecified => true,
            Addresses::NoneAllowed => false,
            Addresses::Rules(rules) => rules.iter().find(|r| r.contains(addr)).is_some_and(|r| r.permit),
        }
    }

    /// pppd's match score: 2 for an exact client, plus 1 for an exact server.
    fn score(&self) -> u8 {
        u8::from(self.client.is_exact()).saturating_mul(2).saturating_add(u8::from(self.server.is_exact()))
    }
}

/// Addresses a peer may never be given.
fn bad_peer_addr(a: Ipv4Addr) -> bool {
    let first = a.octets()[0];
    first == 0 || first == 127 || first >= 224
}

/// A parsed secrets file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The file the entries came from.
    pub path: PathBuf,
    /// The entries in file order.
    pub entries: Vec<Entry>,
}

impl Secrets {
    /// Reads and parses `path`; `@/file` secrets are read at once.
    ///
    /// # Errors
    /// `path: cannot read …` or `path: file too large`; otherwise the
    /// errors of [`Secrets::parse`].
    pub fn load(path: &Path) -> Result<Secrets, ConfigError> {
        let text = read_limited(path).map_err(|m| ConfigError::file(path, m))?;
        Secrets::parse(path, &text)
    }

    /// Parses `text` as the content of `path` (`path` is used in errors).
    ///
    /// # Errors
    /// `path:line: …` for every form the module documentation lists as
    /// refused, a malformed address, an unterminated quote, a `\` at the
    /// end of the file, and an `@/file` that cannot be read or is empty.
    pub fn parse(path: &Path, text: &[u8]) -> Result<Secrets, ConfigError> {
        let lines = tokenize(text).map_err(|(line, m)| ConfigError::at(path, line, m))?;
        let mut entries = Vec::with_capacity(lines.len());
        for (line, words) in lines {
            entries.push(parse_entry(line, words).map_err(|m| ConfigError::at(path, line, m))?);
        }
        Ok(Secrets { path: path.to_path_buf(), entries })
    }

    /// The entry for `client` authenticating to `server`, with pppd's
    /// precedence (module documentation); `server = None` matches any
    /// server field. As authenticator, `client` is the name the peer gave
    /// and `server` ours; as the authenticating side, `client` is our user
    /// name and `server` the peer's name.
    pub fn secret_for(&self, client: &[u8], server: Option<&[u8]>) -> Option<&Entry> {
        let mut best: Option<&Entry> = None;
        for e in &self.entries {
            let server_ok = match server {
                Some(s) => e.server.matches(s),
                None => true,
            };
            let better = match best {
                Some(b) => e.score() > b.score(),
                None => true,
            };
            if e.client.matches(client) && server_ok && better {
                best = Some(e);
            }
        }
        best
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the file holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err("file too large".into());
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// A logical line: the 1-based line of its first word and its words.
type Line = (usize, Vec<Vec<u8>>);

/// Splits `text` into logical lines of words with pppd's word rules.
fn tokenize(text: &[u8]) -> Result<Vec<Line>, (usize, String)> {
    let mut out: Vec<Line> = Vec::new();
    let mut cur: Option<Line> = None;
    let mut line = 1usize;
    let mut i = 0usize;
    while let Some(&c) = text.get(i) {
        match c {
            b'\n' => {
                out.extend(cur.take());
                line = line.saturating_add(1);
                i = i.saturating_add(1);
            }
            b'#' => {
                while text.get(i).is_some_and(|&b| b != b'\n') {
                    i = i.saturating_add(1);
                }
            }
            b'\\' if text.get(i.saturating_add(1)) == Some(&b'\n') => {
                line = line.saturating_add(1);
                i = i.saturating_add(2);
            }
            c if c.is_ascii_whitespace() => i = i.saturating_add(1),
            _ => {
                let start_line = line;
                let (word, next, lines_crossed) = read_word(text, i).map_err(|m| (start_line, m))?;
                if word.len() > MAX_WORD {
                    return Err((start_line, format!("word longer than {MAX_WORD} octets")));
                }
                line = line.saturating_add(lines_crossed);
                i = next;
                cur.get_or_insert_with(|| (start_line, Vec::new())).1.push(word);
            }
        }
    }
    out.extend(cur);
    Ok(out)
}

/// Reads one word starting at `start` (not a blank). Returns the word, the
/// index after it and the number of `\`-newlines it crossed.
fn read_word(text: &[u8], start: usize) -> Result<(Vec<u8>, usize, usize), String> {
    let quote = text.get(start).copied().filter(|&c| c == b'"' || c == b'\'');
    let mut i = if quote.is_some() { start.saturating_add(1) } else { start };
    let mut word = Vec::new();
    let mut crossed = 0usize;
    loop {
        let Some(&c) = text.get(i) else {
            return match quote {
                Some(q) => Err(format!("unterminated {} quote", char::from(q))),
                None => Ok((word, i, crossed)),
            };
        };
        match (quote, c) {
            (Some(q), c) if c == q => return Ok((word, i.saturating_add(1), crossed)),
            (Some(_), b'\n') => return Err("quoted word runs past the end of the line".into()),
            (None, c) if c.is_ascii_whitespace() || c == b'#' => return Ok((word, i, crossed)),
            (_, b'\\') => {
                let (value, next) = read_escape(text, i.saturating_add(1))?;
                match value {
                    Some(v) => word.push(v),
                    None => crossed = crossed.saturating_add(1),
                }
                i = next;
            }
            (_, c) => {
                word.push(c);
                i = i.saturating_add(1);
            }
        }
    }
}

/// Decodes the escape after a `\` at `at`: the octet (`None` for a
/// `\`-newline, which is dropped) and the index after the sequence.
fn read_escape(text: &[u8], at: usize) -> Result<(Option<u8>, usize), String> {
    let c = *text.get(at).ok_or_else(|| "`\\` at the end of the file".to_string())?;
    let next = at.saturating_add(1);
    let simple = match c {
        b'\n' => return Ok((None, next)),
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b's' => Some(b' '),
        b't' => Some(b'\t'),
        _ => None,
    };
    if let Some(v) = simple {
        return Ok((Some(v), next));
    }
    if (b'0'..=b'7').contains(&c) {
        let mut value: u32 = 0;
        let mut i = at;
        while i < at.saturating_add(3) && text.get(i).is_some_and(|b| (b'0'..=b'7').contains(b)) {
            value = value.saturating_mul(8).saturating_add(u32::from(text.get(i).copied().unwrap_or(b'0').saturating_sub(b'0')));
            i = i.saturating_add(1);
        }
        let octet = u8::try_from(value).map_err(|_| "octal escape above \\377".to_string())?;
        return Ok((Some(octet), i));
    }
    if c == b'x' {
        let mut value: u8 = 0;
        let mut i = next;
        while i < next.saturating_add(2) {
            let Some(d) = text.get(i).and_then(|b| char::from(*b).to_digit(16)) else { break };
            value = value.wrapping_shl(4) | u8::try_from(d).unwrap_or(0);
            i = i.saturating_add(1);
        }
        return Ok((Some(value), i));
    }
    Ok((Some(c), next))
}

/// Builds an entry from a logical line's words.
fn parse_entry(line: usize, words: Vec<Vec<u8>>) -> Result<Entry, String> {
    let mut it = words.into_iter();
    let (Some(client), Some(server), Some(secret)) = (it.next(), it.next(), it.next()) else {
        return Err("expected `client server secret [address ...]`".into());
    };
    let pattern = |w: Vec<u8>| if w == b"*" { NamePattern::Any } else { NamePattern::Exact(w) };
    let secret = resolve_secret(secret)?;
    let addresses = parse_addresses(it.collect())?;
    Ok(Entry { client: pattern(client), server: pattern(server), secret, addresses, line })
}

/// Applies `@/file` indirection and refuses `@login`.
fn resolve_secret(word: Vec<u8>) -> Result<Vec<u8>, String> {
    if word == b"@login" {
        return Err("`@login` (checking the system password database) is not supported".into());
    }
    let Some(rest) = word.strip_prefix(b"@") else { return Ok(word) };
    if !rest.starts_with(b"/") {
        return Ok(word);
    }
    let name = std::str::from_utf8(rest).map_err(|_| "the `@/file` path is not UTF-8".to_string())?;
    let file = Path::new(name);
    let text = read_limited(file).map_err(|m| format!("secret file {name}: {m}"))?;
    let lines = tokenize(&text).map_err(|(l, m)| format!("secret file {name}:{l}: {m}"))?;
    lines.into_iter().next().and_then(|(_, w)| w.into_iter().next()).ok_or_else(|| format!("secret file {name} holds no secret"))
}

/// Parses the address column (already split into words).
fn parse_addresses(words: Vec<Vec<u8>>) -> Result<Addresses, String> {
    if words.is_empty() {
        return Ok(Addresses::Unspecified);
    }
    if words.iter().any(|w| w == b"--") {
        return Err("per-user pppd options after `--` are not supported".into());
    }
    let mut rules = Vec::new();
    for w in words {
        match w.as_slice() {
            b"-" if rules.is_empty() => return Ok(Addresses::NoneAllowed),
            b"-" => break,
            b"*" => {
                rules.push(AddrRule { permit: true, net: Ipv4Addr::UNSPECIFIED, prefix_len: 0 });
                break;
            }
            _ => rules.push(parse_rule(&w)?),
        }
    }
    Ok(Addresses::Rules(rules))
}

/// Parses `[!]a.b.c.d[/n]`.
fn parse_rule(word: &[u8]) -> Result<AddrRule, String> {
    let text = std::str::from_utf8(word).map_err(|_| "address is not text".to_string())?;
    let (permit, body) = match text.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let (addr_text, len) = match body.split_once('/') {
        None => (body, 32u8),
        Some((_, l)) if l.ends_with('+') => return Err(format!("`{text}`: the `/n+` form (offset by the unit number) is not supported")),
        Some((a, l)) => {
            let len = l.parse::<u8>().ok().filter(|n| (1..=32).contains(n)).ok_or_else(|| format!("`{text}`: prefix length must be 1 to 32"))?;
            (a, len)
        }
    };
    let addr: Ipv4Addr = addr_text.parse().map_err(|_| {
        if addr_text.bytes().any(|b| b.is_ascii_alphabetic()) {
            format!("`{text}`: host and network names are not supported (no DNS); write the address")
        } else {
            format!("`{text}` is not an IPv4 address")
        }
    })?;
    let mask = u32::MAX.checked_shl(32u32.saturating_sub(u32::from(len))).unwrap_or(0);
    Ok(AddrRule { permit, net: Ipv4Addr::from(u32::from(addr) & mask), prefix_len: len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("chap-secrets")
    }

    fn parse(text: &str) -> Secrets {
        Secrets::parse(p(), text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> ConfigError {
        Secrets::parse(p(), text.as_bytes()).unwrap_err()
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn words_comments_quotes_escapes() {
        let s = parse(
            "# Secrets for authentication using CHAP\n\
             # client\tserver\tsecret\t\t\tIP addresses\n\
             alice\t*\t\"two words\"\t192.0.2.10\n\
             \n\
             'bob smith' lns \"\" # empty secret\n\
             carol * se\\x41cr\\101t\\s\\#x\n\
             dave * 'a#b' !192.0.2.1 \\\n   192.0.2.0/24\n",
        );
        assert_eq!(s.len(), 4, "{s:?}");
        let e = &s.entries[0];
        assert_eq!(
            (e.client.clone(), e.server.clone(), e.secret.as_slice(), e.line),
            (NamePattern::Exact(b"alice".to_vec()), NamePattern::Any, &b"two words"[..], 3)
        );
        assert_eq!(e.addresses, Addresses::Rules(vec![AddrRule { permit: true, net: a("192.0.2.10"), prefix_len: 32 }]));
        let e = &s.entries[1];
        assert_eq!((e.client.clone(), e.secret.as_slice(), e.line), (NamePattern::Exact(b"bob smith".to_vec()), &b""[..], 5));
        assert_eq!(e.addresses, Addresses::Unspecified);
        assert_eq!(s.entries[2].secret, b"seAcrAt #x");
        let e = &s.entries[3];
        assert_eq!((e.secret.as_slice(), e.line), (&b"a#b"[..], 7));
        assert!(e.permits(a("192.0.2.77")) && !e.permits(a("192.0.2.1")) && !e.permits(a("198.51.100.1")));
        // "eve" alone is too short: reported at its line.
        assert_eq!(err("eve#comment\n").line, Some(1));
    }

    #[test]
    fn more_escapes_and_crlf() {
        let s = parse("u * \\a\\b\\f\\n\\r\\t\\\\\\\"\\'\\z\\1010\\xg\r\nv * \"x\\\"y\"\n");
        assert_eq!(s.entries[0].secret, b"\x07\x08\x0c\n\r\t\\\"'zA0\x00g");
        assert_eq!(s.entries[1].secret, b"x\"y");
        assert_eq!(s.entries[1].line, 2);
    }

    #[test]
    fn addresses_forms() {
        let s = parse("a * s -\nb * s *\nc * s !192.0.2.5 192.0.2.0/24\nd * s 192.0.2.9 198.51.100.0/28\ne * s - 192.0.2.1\nf * s 192.0.2.3/24\ng * s !192.0.2.4 127.0.0.1\n");
        let e = |n: usize| &s.entries[n];
        assert_eq!(e(0).addresses, Addresses::NoneAllowed);
        assert!(!e(0).permits(a("192.0.2.1")));
        assert!(e(1).permits(a("203.0.113.9")) && !e(1).permits(a("127.0.0.1")) && !e(1).permits(a("224.0.0.1")));
        assert_eq!(e(1).static_address(), None);
        assert!(!e(2).permits(a("192.0.2.5")) && e(2).permits(a("192.0.2.6")));
        assert_eq!(e(2).static_address(), None);
        assert_eq!(e(3).static_address(), Some(a("192.0.2.9")));
        assert!(e(3).permits(a("198.51.100.3")) && !e(3).permits(a("198.51.100.16")));
        assert_eq!(e(4).addresses, Addresses::NoneAllowed);
        assert_eq!(e(5).addresses, Addresses::Rules(vec![AddrRule { permit: true, net: a("192.0.2.0"), prefix_len: 24 }]));
        assert_eq!(e(6).static_address(), None, "deny rules and loopback are never static");
        assert_eq!(parse("h * s\n").entries[0].static_address(), None);
        assert!(parse("h * s\n").entries[0].permits(a("192.0.2.1")));
    }

    #[test]
    fn refused_forms_carry_lines() {
        for (text, line, what) in [
            ("a * s\nb *\n", 2, "expected `client server secret"),
            ("a\n", 1, "expected"),
            ("a * s 192.0.2.1 -- idle 30\n", 1, "`--`"),
            ("\na * @login\n", 2, "@login"),
            ("a * s host.example\n", 1, "no DNS"),
            ("a * s 192.0.2.0/24+\n", 1, "/n+"),
            ("a * s 192.0.2.0/33\n", 1, "1 to 32"),
            ("a * s 192.0.2.0/0\n", 1, "1 to 32"),
            ("a * s 300.1.1.1\n", 1, "not an IPv4"),
            ("a * \"open\nb * s\n", 1, "past the end of the line"),
            ("a * \"open", 1, "unterminated"),
            ("a * s\\", 1, "end of the file"),
            ("a * \\777\n", 1, "octal"),
            ("a * @/nonexistent/propppd-test-secret\n", 1, "cannot read"),
        ] {
            let e = err(text);
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("chap-secrets:{line}: ")), "{e}");
        }
        let long = format!("a * {}\n", "x".repeat(MAX_WORD + 1));
        assert!(err(&long).message.contains("longer than"));
        assert!(Secrets::parse(p(), format!("a * {}\n", "x".repeat(MAX_WORD)).as_bytes()).is_ok());
    }

    #[test]
    fn at_file_secret() {
        let dir = std::env::temp_dir().join(format!("propppd-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("alice.secret");
        std::fs::write(&f, b"# comment\n  \"s3cret word\" ignored\n").unwrap();
        let empty = dir.join("empty.secret");
        std::fs::write(&empty, b"# nothing\n").unwrap();
        let text = format!("alice * @{}\nbob * @relative\n", f.display());
        let s = parse(&text);
        assert_eq!(s.entries[0].secret, b"s3cret word");
        assert_eq!(s.entries[1].secret, b"@relative", "only @/ is indirection, as in pppd");
        let e = err(&format!("\nx * @{}\n", empty.display()));
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("holds no secret"), "{e}");
        let main = dir.join("chap-secrets");
        std::fs::write(&main, text.as_bytes()).unwrap();
        assert_eq!(Secrets::load(&main).unwrap().entries[0].secret, b"s3cret word");
        assert_eq!(Secrets::load(&dir.join("missing")).unwrap_err().line, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn precedence_exact_beats_wildcard() {
        let s = parse(
            "*     *   any-any\n\
             *     lns any-client\n\
             alice *   alice-any\n\
             alice lns alice-lns\n\
             alice lns second-alice-lns\n\
             bob   *   bob-any\n\
             bob   *   second-bob-any\n\
             *     lns2 star-lns2\n",
        );
        let secret = |c: &str, sv: Option<&str>| s.secret_for(c.as_bytes(), sv.map(str::as_bytes)).map(|e| String::from_utf8(e.secret.clone()).unwrap());
        assert_eq!(secret("alice", Some("lns")).as_deref(), Some("alice-lns"));
        assert_eq!(secret("alice", Some("other")).as_deref(), Some("alice-any"));
        assert_eq!(secret("bob", Some("lns")).as_deref(), Some("bob-any"), "exact client beats exact server");
        assert_eq!(secret("bob", None).as_deref(), Some("bob-any"), "first of equals wins");
        assert_eq!(secret("carol", Some("lns")).as_deref(), Some("any-client"));
        assert_eq!(secret("carol", Some("lns2")).as_deref(), Some("star-lns2"));
        assert_eq!(secret("carol", Some("x")).as_deref(), Some("any-any"));
        assert_eq!(secret("Alice", Some("lns")).as_deref(), Some("any-client"), "names are case-sensitive");
        let only = parse("alice lns pw\n");
        assert!(only.secret_for(b"alice", Some(b"other")).is_none());
        assert!(only.secret_for(b"bob", None).is_none());
        assert!(only.secret_for(b"alice", None).is_some());
        assert!(parse("# empty\n").is_empty());
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = parse("alice * topsecret\n");
        assert!(!format!("{:?}", s.entries[0]).contains("topsecret"));
    }
}
