//! Value checks per attribute type (see [`super::AttrDef::validate`]).
//!
//! Every check returns a human-readable reason on failure; the caller wraps it into
//! [`super::AttrError::InvalidValue`] with the attribute name and the value.

use super::{AttrDef, AttrType};

type Check = Result<(), String>;

/// Checks `value` against `def`'s type and constraints.
pub(super) fn check(def: &AttrDef, value: &str) -> Check {
    if value.is_empty() && !matches!(def.ty, AttrType::Binary | AttrType::Ostring) {
        return Err("empty value".to_string());
    }
    match def.ty {
        AttrType::Boolean => boolean(value),
        AttrType::Enum => enumeration(def, value),
        AttrType::Integer => integer(def, value, i64::from(i32::MIN), i64::from(i32::MAX)),
        AttrType::Long => integer(def, value, i64::MIN, i64::MAX),
        AttrType::Port => integer_in(value, 0, 65535, "port"),
        AttrType::Duration => duration(def, value),
        AttrType::Gentime => gentime(value),
        AttrType::Id => uuid(value),
        // Addresses are IA5 strings in LDAP: IDN domains must be in their ASCII (punycode) form.
        AttrType::Email => max_len(def, value)
            .and_then(|()| ascii(value))
            .and_then(|()| email(value)),
        AttrType::Emailp => max_len(def, value)
            .and_then(|()| ascii(value))
            .and_then(|()| emailp(value)),
        AttrType::CsEmailp => max_len(def, value)
            .and_then(|()| ascii(value))
            .and_then(|()| cs_emailp(value)),
        AttrType::Regex => max_len(def, value).and_then(|()| regex(def, value)),
        AttrType::Astring => max_len(def, value).and_then(|()| ascii(value)),
        AttrType::String | AttrType::Cstring | AttrType::Phone => max_len(def, value),
        AttrType::Ostring | AttrType::Binary | AttrType::Certificate => max_len(def, value),
    }
}

fn boolean(value: &str) -> Check {
    match value {
        "TRUE" | "FALSE" => Ok(()),
        _ => Err("must be TRUE or FALSE".to_string()),
    }
}

fn enumeration(def: &AttrDef, value: &str) -> Check {
    if def.enum_values.contains(&value) {
        Ok(())
    } else {
        Err(format!("must be one of: {}", def.enum_values.join(",")))
    }
}

/// Parses an LDAP INTEGER (RFC 4517: optional `-`, no leading zeros, no `+`).
fn parse_integer(value: &str) -> Result<i64, String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let ok_form = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && value != "-0";
    if !ok_form {
        return Err("not a decimal integer".to_string());
    }
    value
        .parse::<i64>()
        .map_err(|_| "integer out of the 64-bit range".to_string())
}

fn integer_in(value: &str, lo: i64, hi: i64, what: &str) -> Check {
    let n = parse_integer(value)?;
    if n < lo || n > hi {
        return Err(format!("{what} must be between {lo} and {hi}"));
    }
    Ok(())
}

fn integer(def: &AttrDef, value: &str, type_lo: i64, type_hi: i64) -> Check {
    let lo = def.min_i64().unwrap_or(type_lo).max(type_lo);
    let hi = def.max_i64().unwrap_or(type_hi).min(type_hi);
    integer_in(value, lo, hi, "value")
}

/// `^\d+([hmsd]|ms)?$`; returns the duration in milliseconds (saturating).
pub(super) fn duration_millis(value: &str) -> Result<u64, String> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(split);
    if num.is_empty() {
        return Err("duration must start with digits (^\\d+([hmsd]|ms)?$)".to_string());
    }
    let factor: u64 = match unit {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("bad duration unit {unit:?} (use d, h, m, s or ms)")),
    };
    // Digits only, so the only failure is overflow: saturate, the value stays well-formed.
    let n: u64 = num.parse().unwrap_or(u64::MAX);
    Ok(n.saturating_mul(factor))
}

fn duration(def: &AttrDef, value: &str) -> Check {
    let ms = duration_millis(value)?;
    if let Some(min) = def.min.and_then(|m| m.parse::<u64>().ok()) {
        if ms < min {
            return Err(format!("duration is shorter than the minimum of {min} ms"));
        }
    }
    if let Some(max) = def.max.and_then(|m| m.parse::<u64>().ok()) {
        if ms > max {
            return Err(format!("duration is longer than the maximum of {max} ms"));
        }
    }
    Ok(())
}

fn two_digits(s: &[u8], at: usize) -> Option<u32> {
    let hi = *s.get(at)?;
    let lo = *s.get(at + 1)?;
    if hi.is_ascii_digit() && lo.is_ascii_digit() {
        Some(u32::from(hi - b'0') * 10 + u32::from(lo - b'0'))
    } else {
        None
    }
}

/// `YYYYMMDDHHMMSS[(.|,)fraction](Z|z|±HHMM)` with a valid calendar date.
fn gentime(value: &str) -> Check {
    let bad = || "not a generalized time (YYYYMMDDHHMMSSZ)".to_string();
    let b = value.as_bytes();
    if b.len() < 15 || !b.iter().take(14).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let field = |at| two_digits(b, at).ok_or_else(bad);
    let year = field(0)? * 100 + field(2)?;
    let (month, day) = (field(4)?, field(6)?);
    let (hour, minute, second) = (field(8)?, field(10)?, field(12)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err("month out of range".to_string()),
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return Err("date or time out of range".to_string());
    }
    let mut rest = value.get(14..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        rest = frac.get(n..).ok_or_else(bad)?;
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', ..] if rest.len() == 5 => {
            let off = rest.as_bytes();
            match (two_digits(off, 1), two_digits(off, 3)) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => Ok(()),
                _ => Err("bad time zone offset".to_string()),
            }
        }
        _ => Err(bad()),
    }
}

/// `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`.
fn uuid(value: &str) -> Check {
    let groups: Vec<&str> = value.split('-').collect();
    let lens = [8usize, 4, 4, 4, 12];
    let ok = groups.len() == lens.len()
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err("not a UUID (8-4-4-4-12 hex digits)".to_string())
    }
}

fn max_len(def: &AttrDef, value: &str) -> Check {
    match def.max.and_then(|m| m.parse::<usize>().ok()) {
        Some(max) if value.encode_utf16().count() > max => {
            Err(format!("longer than the maximum of {max} characters"))
        }
        _ => Ok(()),
    }
}

fn ascii(value: &str) -> Check {
    if value.is_ascii() {
        Ok(())
    } else {
        Err("not an IA5 (ASCII) string".to_string())
    }
}

/// RFC 5322 `atext` characters (plus `.` between atoms, checked separately).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn local_part(local: &str) -> Check {
    if local.is_empty() {
        return Err("empty local part".to_string());
    }
    if let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        let mut escaped = false;
        for c in inner.chars() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' || c.is_control() {
                return Err("bad character in quoted local part".to_string());
            }
        }
        return if escaped {
            Err("dangling backslash in local part".to_string())
        } else {
            Ok(())
        };
    }
    if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(is_atext))
    {
        return Err("bad local part".to_string());
    }
    Ok(())
}

fn domain_part(domain: &str) -> Check {
    if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let ok = !lit.is_empty()
            && lit
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-".contains(c));
        return if ok {
            Ok(())
        } else {
            Err("bad domain literal".to_string())
        };
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || domain.len() > 253 {
        return Err("bad domain".to_string());
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(format!("bad domain label {label:?}"));
        }
    }
    Ok(())
}

/// A bare `local@domain` address.
pub(super) fn email(value: &str) -> Check {
    let at = value
        .rfind('@')
        .ok_or_else(|| "missing @ in address".to_string())?;
    let (local, domain) = (&value[..at], &value[at + 1..]);
    local_part(local)?;
    domain_part(domain)
}

/// An address with an optional personal part: `a@b`, `Name <a@b>`, `"Name" <a@b>`.
fn emailp(value: &str) -> Check {
    let v = value.trim();
    match v.strip_suffix('>') {
        Some(head) => {
            let lt = head
                .rfind('<')
                .ok_or_else(|| "unbalanced <> in address".to_string())?;
            let personal = head[..lt].trim();
            if personal.starts_with('"') && !(personal.len() >= 2 && personal.ends_with('"')) {
                return Err("unbalanced quotes in personal part".to_string());
            }
            if personal.contains(['<', '>']) {
                return Err("bad personal part".to_string());
            }
            email(&head[lt + 1..])
        }
        None if v.contains(['<', '>']) => Err("unbalanced <> in address".to_string()),
        None => email(v),
    }
}

/// Comma-separated `emailp` addresses (commas inside quotes do not separate).
fn cs_emailp(value: &str) -> Check {
    let mut start = 0;
    let mut quoted = false;
    let mut parts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("unbalanced quotes".to_string());
    }
    parts.push(&value[start..]);
    parts.into_iter().try_for_each(emailp)
}

fn regex(def: &AttrDef, value: &str) -> Check {
    let pattern = def
        .regex
        .ok_or_else(|| "regex attribute without a pattern".to_string())?;
    match mini_regex::is_match(pattern, value) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("does not match {pattern}")),
        Err(e) => Err(format!("cannot evaluate pattern {pattern}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_units() {
        assert_eq!(duration_millis("0"), Ok(0));
        assert_eq!(duration_millis("45"), Ok(45_000));
        assert_eq!(duration_millis("45s"), Ok(45_000));
        assert_eq!(duration_millis("1500ms"), Ok(1500));
        assert_eq!(duration_millis("2m"), Ok(120_000));
        assert_eq!(duration_millis("1h"), Ok(3_600_000));
        assert_eq!(duration_millis("30d"), Ok(2_592_000_000));
        assert_eq!(duration_millis("99999999999999999999999d"), Ok(u64::MAX));
        assert!(duration_millis("ms").is_err());
        assert!(duration_millis("1M").is_err());
    }

    #[test]
    fn ldap_integer_form() {
        assert_eq!(parse_integer("0"), Ok(0));
        assert_eq!(parse_integer("-42"), Ok(-42));
        assert_eq!(parse_integer("9223372036854775807"), Ok(i64::MAX));
        for bad in [
            "",
            "-",
            "-0",
            "+1",
            "01",
            " 1",
            "1 ",
            "1_000",
            "9223372036854775808",
        ] {
            assert!(parse_integer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gentime_forms() {
        assert!(gentime("20000229000000Z").is_ok());
        assert!(gentime("19000229000000Z").is_err());
        assert!(gentime("20240101000000,5Z").is_ok());
        assert!(gentime("20240101000000-0530").is_ok());
        assert!(gentime("20240101000000-2460").is_err());
        assert!(gentime("20240101000000ZZ").is_err());
        assert!(gentime("2024010100000\u{e9}Z").is_err());
    }

    #[test]
    fn address_forms() {
        assert!(email("a@b").is_ok());
        assert!(email("a@b@c").is_err());
        assert!(email(".a@b.example").is_err());
        assert!(email("\"a\\\"b\"@x.example").is_ok());
        assert!(emailp("  Bob  <bob@x.example> ").is_ok());
        assert!(emailp("<bob@x.example>").is_ok());
        assert!(emailp("Bob bob@x.example>").is_err());
        assert!(cs_emailp("a@x.example,b@y.example").is_ok());
        assert!(cs_emailp("a@x.example,,b@y.example").is_err());
    }
}

/// A small regular-expression matcher for the patterns Zimbra uses in `type="regex"`
/// attributes (anchors, literals, `.`, escapes, bracket classes with ranges, and the
/// quantifiers `*`, `+`, `?`). No dependency, backtracking, anchored or unanchored.
pub(super) mod mini_regex {
    #[derive(Debug, Clone)]
    enum Atom {
        Any,
        Lit(char),
        Class {
            negated: bool,
            items: Vec<(char, char)>,
        },
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Rep {
        One,
        Star,
        Plus,
        Opt,
    }

    struct Pattern {
        anchored_start: bool,
        anchored_end: bool,
        items: Vec<(Atom, Rep)>,
    }

    fn escape(c: char) -> Result<Vec<(char, char)>, String> {
        Ok(match c {
            'd' => vec![('0', '9')],
            'w' => vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
            's' => vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')],
            c if c.is_ascii_alphanumeric() => return Err(format!("unsupported escape \\{c}")),
            c => vec![(c, c)],
        })
    }

    fn parse(pattern: &str) -> Result<Pattern, String> {
        let mut chars: Vec<char> = pattern.chars().collect();
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            chars.remove(0);
        }
        let anchored_end = chars.last() == Some(&'$') && !ends_escaped(&chars);
        if anchored_end {
            chars.pop();
        }
        let mut items = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            let atom = match c {
                '.' => Atom::Any,
                '\\' => {
                    let e = *chars.get(i).ok_or("dangling backslash")?;
                    i += 1;
                    let set = escape(e)?;
                    match set.as_slice() {
                        [(a, b)] if a == b => Atom::Lit(*a),
                        _ => Atom::Class {
                            negated: false,
                            items: set,
                        },
                    }
                }
                '[' => {
                    let negated = chars.get(i) == Some(&'^');
                    if negated {
                        i += 1;
                    }
                    let mut set = Vec::new();
                    let mut first = true;
                    loop {
                        let c = *chars.get(i).ok_or("unterminated [")?;
                        i += 1;
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            let e = *chars.get(i).ok_or("dangling backslash")?;
                            i += 1;
                            let s = escape(e)?;
                            if s.len() != 1 || s.first().is_some_and(|(a, b)| a != b) {
                                set.extend(s);
                                continue;
                            }
                            e
                        } else {
                            c
                        };
                        // A range `a-z`, unless the `-` is last in the class.
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']')
                        {
                            let mut hi = *chars.get(i + 1).ok_or("unterminated [")?;
                            i += 2;
                            if hi == '\\' {
                                hi = *chars.get(i).ok_or("dangling backslash")?;
                                i += 1;
                            }
                            if hi < lo {
                                return Err(format!("bad range {lo}-{hi}"));
                            }
                            set.push((lo, hi));
                        } else {
                            set.push((lo, lo));
                        }
                    }
                    Atom::Class {
                        negated,
                        items: set,
                    }
                }
                '(' | ')' | '|' | '{' | '}' | '^' | '$' => {
                    return Err(format!("unsupported regex syntax {c:?}"))
                }
                '*' | '+' | '?' => return Err(format!("quantifier {c:?} without an atom")),
                c => Atom::Lit(c),
            };
            let rep = match chars.get(i) {
                Some('*') => Rep::Star,
                Some('+') => Rep::Plus,
                Some('?') => Rep::Opt,
                _ => Rep::One,
            };
            if rep != Rep::One {
                i += 1;
            }
            items.push((atom, rep));
        }
        Ok(Pattern {
            anchored_start,
            anchored_end,
            items,
        })
    }

    fn ends_escaped(chars: &[char]) -> bool {
        let n = chars.len();
        let backslashes = chars
            .iter()
            .take(n.saturating_sub(1))
            .rev()
            .take_while(|&&c| c == '\\')
            .count();
        backslashes % 2 == 1
    }

    fn atom_matches(atom: &Atom, c: char) -> bool {
        match atom {
            Atom::Any => c != '\n',
            Atom::Lit(l) => *l == c,
            Atom::Class { negated, items } => {
                items.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }

    fn match_here(items: &[(Atom, Rep)], text: &[char], anchored_end: bool) -> bool {
        let Some(((atom, rep), rest)) = items.split_first() else {
            return !anchored_end || text.is_empty();
        };
        let (min, max) = match rep {
            Rep::One => (1, 1),
            Rep::Opt => (0, 1),
            Rep::Star => (0, usize::MAX),
            Rep::Plus => (1, usize::MAX),
        };
        let run = text
            .iter()
            .take(max)
            .take_while(|&&c| atom_matches(atom, c))
            .count();
        (min..=run).rev().any(|n| {
            text.get(n..)
                .is_some_and(|t| match_here(rest, t, anchored_end))
        })
    }

    /// Whether `text` matches `pattern` (Java `Matcher.matches()`-free, `find()` semantics:
    /// unanchored patterns may match anywhere).
    pub fn is_match(pattern: &str, text: &str) -> Result<bool, String> {
        let p = parse(pattern)?;
        let chars: Vec<char> = text.chars().collect();
        if p.anchored_start {
            return Ok(match_here(&p.items, &chars, p.anchored_end));
        }
        Ok((0..=chars.len()).any(|s| {
            chars
                .get(s..)
                .is_some_and(|t| match_here(&p.items, t, p.anchored_end))
        }))
    }

    #[cfg(test)]
    mod tests {
        use super::is_match;

        #[test]
        fn catch_all_pattern() {
            let p = r"^@[A-Za-z0-9-\.]+$";
            assert_eq!(is_match(p, "@example.com"), Ok(true));
            assert_eq!(is_match(p, "@sub-1.example.com"), Ok(true));
            assert_eq!(is_match(p, "@"), Ok(false));
            assert_eq!(is_match(p, "user@example.com"), Ok(false));
            assert_eq!(is_match(p, "@exa mple.com"), Ok(false));
            assert_eq!(is_match(p, "@example.com\n"), Ok(false));
        }

        #[test]
        fn quantifiers_and_classes() {
            assert_eq!(is_match("^ab?c*d+$", "acccd"), Ok(true));
            assert_eq!(is_match("^ab?c*d+$", "abd"), Ok(true));
            assert_eq!(is_match("^ab?c*d+$", "abbd"), Ok(false));
            assert_eq!(is_match("b.d", "xxabcdxx"), Ok(true));
            assert_eq!(is_match("^[^0-9]+$", "abc"), Ok(true));
            assert_eq!(is_match("^[^0-9]+$", "ab1"), Ok(false));
            assert_eq!(is_match(r"^\d+$", "123"), Ok(true));
            assert_eq!(is_match("^[a-]+$", "a-a"), Ok(true));
        }

        #[test]
        fn unsupported_syntax_is_an_error() {
            assert!(is_match("^(a|b)$", "a").is_err());
            assert!(is_match("[abc", "a").is_err());
            assert!(is_match("*a", "a").is_err());
            assert!(is_match(r"a\", "a").is_err());
        }
    }
}
