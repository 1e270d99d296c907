//! Parsing zmprov scripts into typed commands, and printing commands back as zmprov lines.

use std::fmt;

use super::{ErrorCode, ZmprovError};

/// How an attribute argument changes the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AttrOp {
    /// `attr value`: replace all values (repeat `attr` for several values); `attr ""` removes
    /// the attribute.
    Replace,
    /// `+attr value`: add a value unless present.
    Add,
    /// `-attr value`: remove a value if present.
    Remove,
}

/// One `attr value` argument pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AttrArg {
    /// The operation (`attr`, `+attr`, `-attr`).
    pub op: AttrOp,
    /// The attribute name as written (without the `+`/`-`).
    pub name: String,
    /// The value (empty string with [`AttrOp::Replace`] removes the attribute).
    pub value: String,
}

impl AttrArg {
    /// A replace argument.
    pub fn replace(name: &str, value: &str) -> Self {
        AttrArg {
            op: AttrOp::Replace,
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A zmprov command (the subset that shapes mail routing and directory layout).
///
/// Each variant documents its zmprov syntax.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// `cs {name} [attr value...]` (createServer).
    CreateServer {
        /// Server name.
        name: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `ms {name|id} [attr value...]` (modifyServer).
    ModifyServer {
        /// Server name or id.
        server: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `gs {name|id} [attr...]` (getServer).
    GetServer {
        /// Server name or id.
        server: String,
        /// Attributes to print (all when empty).
        attrs: Vec<String>,
    },
    /// `cd {domain} [attr value...]` (createDomain).
    CreateDomain {
        /// Domain name.
        name: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `cad {alias-domain} {local-domain|id} [attr value...]` (createAliasDomain).
    CreateAliasDomain {
        /// The alias domain's name.
        alias: String,
        /// The target (local) domain, by name or id.
        target: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `md {domain|id} [attr value...]` (modifyDomain).
    ModifyDomain {
        /// Domain name or id.
        domain: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `gd {domain|id} [attr...]` (getDomain).
    GetDomain {
        /// Domain name or id.
        domain: String,
        /// Attributes to print (all when empty).
        attrs: Vec<String>,
    },
    /// `dd {domain|id}` (deleteDomain).
    DeleteDomain {
        /// Domain name or id.
        domain: String,
    },
    /// `rd {domain|id} {newDomain}` (renameDomain; needs `-l`).
    RenameDomain {
        /// Domain name or id.
        domain: String,
        /// New name.
        new_name: String,
    },
    /// `cc {name} [attr value...]` (createCos).
    CreateCos {
        /// COS name.
        name: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `mc {name|id} [attr value...]` (modifyCos).
    ModifyCos {
        /// COS name or id.
        cos: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `gc {name|id} [attr...]` (getCos).
    GetCos {
        /// COS name or id.
        cos: String,
        /// Attributes to print (all when empty).
        attrs: Vec<String>,
    },
    /// `ca {name@domain} {password} [attr value...]` (createAccount).
    CreateAccount {
        /// The new account's address.
        name: String,
        /// The password (not stored by the model).
        password: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `ma {name@domain|id} [attr value...]` (modifyAccount).
    ModifyAccount {
        /// Account name, alias or id.
        account: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `ga {name@domain|id} [attr...]` (getAccount).
    GetAccount {
        /// Account name, alias or id.
        account: String,
        /// Attributes to print (all when empty).
        attrs: Vec<String>,
    },
    /// `da {name@domain|id}` (deleteAccount).
    DeleteAccount {
        /// Account name, alias or id.
        account: String,
    },
    /// `ra {name@domain|id} {newName@domain}` (renameAccount).
    RenameAccount {
        /// Account name, alias or id.
        account: String,
        /// New address.
        new_name: String,
    },
    /// `aaa {name@domain|id} {alias@domain}` (addAccountAlias).
    AddAccountAlias {
        /// Account name or id.
        account: String,
        /// The alias address.
        alias: String,
    },
    /// `raa {name@domain|id} {alias@domain}` (removeAccountAlias).
    RemoveAccountAlias {
        /// Account name or id.
        account: String,
        /// The alias address.
        alias: String,
    },
    /// `cdl {list@domain} [attr value...]` (createDistributionList).
    CreateDistributionList {
        /// List address.
        name: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `cddl {list@domain} [attr value...]` (createDynamicDistributionList): a dynamic group
    /// with its `cn=internal` and `cn=external` units.
    CreateDynamicGroup {
        /// Group address.
        name: String,
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `adlm {list@domain|id} {member@domain}+` (addDistributionListMember).
    AddDistributionListMember {
        /// List address or id.
        list: String,
        /// Members to add.
        members: Vec<String>,
    },
    /// `rdlm {list@domain|id} {member@domain}+` (removeDistributionListMember).
    RemoveDistributionListMember {
        /// List address or id.
        list: String,
        /// Members to remove.
        members: Vec<String>,
    },
    /// `ddl {list@domain|id}` (deleteDistributionList).
    DeleteDistributionList {
        /// List address or id.
        list: String,
    },
    /// `mcf attr value [attr value...]` (modifyConfig).
    ModifyConfig {
        /// Attributes.
        attrs: Vec<AttrArg>,
    },
    /// `gcf {attr}` (getConfig).
    GetConfig {
        /// The attribute to print.
        attr: String,
    },
}

/// A command with the script context it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptLine {
    /// 1-based line number in the script.
    pub line: usize,
    /// `-l`/`--ldap` was given (required by `rd`).
    pub ldap: bool,
    /// `-r`/`--replace` was given (allows replacing safeguarded multi-valued attributes).
    pub replace: bool,
    /// The command.
    pub command: Command,
}

struct Spec {
    long: &'static str,
    short: &'static str,
    usage: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        long: "createServer",
        short: "cs",
        usage: "{name} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "modifyServer",
        short: "ms",
        usage: "{name|id} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "getServer",
        short: "gs",
        usage: "{name|id} [attr1 [attr2...]]",
    },
    Spec {
        long: "createDomain",
        short: "cd",
        usage: "{domain} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "createAliasDomain",
        short: "cad",
        usage: "{alias-domain-name} {local-domain-name|id} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "modifyDomain",
        short: "md",
        usage: "{domain|id} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "getDomain",
        short: "gd",
        usage: "{domain|id} [attr1 [attr2...]]",
    },
    Spec {
        long: "deleteDomain",
        short: "dd",
        usage: "{domain|id}",
    },
    Spec {
        long: "renameDomain",
        short: "rd",
        usage: "{domain|id} {newDomain}",
    },
    Spec {
        long: "createCos",
        short: "cc",
        usage: "{name} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "modifyCos",
        short: "mc",
        usage: "{name|id} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "getCos",
        short: "gc",
        usage: "{name|id} [attr1 [attr2...]]",
    },
    Spec {
        long: "createAccount",
        short: "ca",
        usage: "{name@domain} {password} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "modifyAccount",
        short: "ma",
        usage: "{name@domain|id} [attr1 value1 [attr2 value2...]]",
    },
    Spec {
        long: "getAccount",
        short: "ga",
        usage: "{name@domain|id} [attr1 [attr2...]]",
    },
    Spec {
        long: "deleteAccount",
        short: "da",
        usage: "{name@domain|id}",
    },
    Spec {
        long: "renameAccount",
        short: "ra",
        usage: "{name@domain|id} {newName@domain}",
    },
    Spec {
        long: "addAccountAlias",
        short: "aaa",
        usage: "{name@domain|id} {alias@domain}",
    },
    Spec {
        long: "removeAccountAlias",
        short: "raa",
        usage: "{name@domain|id} {alias@domain}",
    },
    Spec {
        long: "createDistributionList",
        short: "cdl",
        usage: "{list@domain}",
    },
    Spec {
        long: "createDynamicDistributionList",
        short: "cddl",
        usage: "{list@domain}",
    },
    Spec {
        long: "addDistributionListMember",
        short: "adlm",
        usage: "{list@domain|id} {member@domain}+",
    },
    Spec {
        long: "removeDistributionListMember",
        short: "rdlm",
        usage: "{list@domain|id} {member@domain}+",
    },
    Spec {
        long: "deleteDistributionList",
        short: "ddl",
        usage: "{list@domain|id}",
    },
    Spec {
        long: "modifyConfig",
        short: "mcf",
        usage: "attr1 value1 [attr2 value2...]",
    },
    Spec {
        long: "getConfig",
        short: "gcf",
        usage: "{name}",
    },
];

fn spec_for(word: &str) -> Option<&'static Spec> {
    SPECS
        .iter()
        .find(|s| s.short.eq_ignore_ascii_case(word) || s.long.eq_ignore_ascii_case(word))
}

/// Split one line into words with POSIX-shell-like quoting: `'...'` literal, `"..."` with `\"`,
/// `\\`, `\$` and `` \` `` escapes, and `\x` outside quotes. Unquoted `#` at the start of a word
/// begins a comment.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(ch) => cur.push(ch),
                    None => return Err("backslash at end of line".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Quote a word so that [`split_words`] reads it back unchanged.
pub fn quote_word(w: &str) -> String {
    let plain = !w.is_empty()
        && !w.starts_with('#')
        && w.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '@' | '.'
                        | '-'
                        | '_'
                        | ':'
                        | '+'
                        | '='
                        | ','
                        | '/'
                        | '%'
                        | '^'
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | '*'
                        | '?'
                        | '!'
                        | '~'
                        | '#'
                )
        });
    if plain {
        w.to_string()
    } else if !w.contains('\'') {
        format!("'{w}'")
    } else {
        let mut s = String::from("\"");
        for c in w.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

fn attr_pairs(words: &[String]) -> Option<Vec<AttrArg>> {
    if words.len() % 2 != 0 {
        return None;
    }
    Some(
        words
            .chunks(2)
            .map(|pair| {
                let (op, name) = if let Some(n) = pair[0].strip_prefix('+') {
                    (AttrOp::Add, n)
                } else if let Some(n) = pair[0].strip_prefix('-') {
                    (AttrOp::Remove, n)
                } else {
                    (AttrOp::Replace, pair[0].as_str())
                };
                AttrArg {
                    op,
                    name: name.to_string(),
                    value: pair[1].clone(),
                }
            })
            .collect(),
    )
}

/// Parse one command from its words (`words[0]` is the command name).
pub fn parse_command(words: &[String], line: usize) -> Result<Command, ZmprovError> {
    let Some(name) = words.first() else {
        return Err(ZmprovError::new(line, ErrorCode::Syntax, "empty command"));
    };
    let spec = spec_for(name).ok_or_else(|| {
        ZmprovError::new(
            line,
            ErrorCode::UnknownCommand,
            format!("Unknown command: {name}"),
        )
    })?;
    let args = &words[1..];
    let usage = || {
        ZmprovError::new(
            line,
            ErrorCode::Usage,
            format!("usage:  {}({}) {}", spec.long, spec.short, spec.usage),
        )
    };
    let s = |i: usize| args[i].clone();
    let pairs = |from: usize| attr_pairs(&args[from..]).ok_or_else(usage);
    let rest = |from: usize| args[from..].to_vec();
    let cmd = match spec.short {
        "cs" if !args.is_empty() => Command::CreateServer {
            name: s(0),
            attrs: pairs(1)?,
        },
        "ms" if !args.is_empty() => Command::ModifyServer {
            server: s(0),
            attrs: pairs(1)?,
        },
        "gs" if !args.is_empty() => Command::GetServer {
            server: s(0),
            attrs: rest(1),
        },
        "cd" if !args.is_empty() => Command::CreateDomain {
            name: s(0),
            attrs: pairs(1)?,
        },
        "cad" if args.len() >= 2 => Command::CreateAliasDomain {
            alias: s(0),
            target: s(1),
            attrs: pairs(2)?,
        },
        "md" if !args.is_empty() => Command::ModifyDomain {
            domain: s(0),
            attrs: pairs(1)?,
        },
        "gd" if !args.is_empty() => Command::GetDomain {
            domain: s(0),
            attrs: rest(1),
        },
        "dd" if args.len() == 1 => Command::DeleteDomain { domain: s(0) },
        "rd" if args.len() == 2 => Command::RenameDomain {
            domain: s(0),
            new_name: s(1),
        },
        "cc" if !args.is_empty() => Command::CreateCos {
            name: s(0),
            attrs: pairs(1)?,
        },
        "mc" if !args.is_empty() => Command::ModifyCos {
            cos: s(0),
            attrs: pairs(1)?,
        },
        "gc" if !args.is_empty() => Command::GetCos {
            cos: s(0),
            attrs: rest(1),
        },
        "ca" if args.len() >= 2 => Command::CreateAccount {
            name: s(0),
            password: s(1),
            attrs: pairs(2)?,
        },
        "ma" if !args.is_empty() => Command::ModifyAccount {
            account: s(0),
            attrs: pairs(1)?,
        },
        "ga" if !args.is_empty() => Command::GetAccount {
            account: s(0),
            attrs: rest(1),
        },
        "da" if args.len() == 1 => Command::DeleteAccount { account: s(0) },
        "ra" if args.len() == 2 => Command::RenameAccount {
            account: s(0),
            new_name: s(1),
        },
        "aaa" if args.len() == 2 => Command::AddAccountAlias {
            account: s(0),
            alias: s(1),
        },
        "raa" if args.len() == 2 => Command::RemoveAccountAlias {
            account: s(0),
            alias: s(1),
        },
        "cdl" if !args.is_empty() => Command::CreateDistributionList {
            name: s(0),
            attrs: pairs(1)?,
        },
        "cddl" if !args.is_empty() => Command::CreateDynamicGroup {
            name: s(0),
            attrs: pairs(1)?,
        },
        "adlm" if args.len() >= 2 => Command::AddDistributionListMember {
            list: s(0),
            members: rest(1),
        },
        "rdlm" if args.len() >= 2 => Command::RemoveDistributionListMember {
            list: s(0),
            members: rest(1),
        },
        "ddl" if args.len() == 1 => Command::DeleteDistributionList { list: s(0) },
        "mcf" if !args.is_empty() => Command::ModifyConfig { attrs: pairs(0)? },
        "gcf" if args.len() == 1 => Command::GetConfig { attr: s(0) },
        _ => return Err(usage()),
    };
    Ok(cmd)
}

/// Parse a whole script: one command per line; blank lines and `#` comments skipped; a leading
/// `zmprov` word (and a `$ ` prompt) is allowed, as are the options `-l`/`--ldap` and
/// `-r`/`--replace` before the command.
///
/// ```
/// use zimbra_prov::zmprov::{parse_script, Command};
/// let lines = parse_script("# setup\n$ zmprov -l cd example.org\nma a@example.org zimbraMailTransport 'smtp:[mx.example.org]'\n").unwrap();
/// assert_eq!(lines.len(), 2);
/// assert_eq!(lines[0].line, 2);
/// assert!(lines[0].ldap);
/// assert!(matches!(lines[1].command, Command::ModifyAccount { .. }));
/// ```
pub fn parse_script(script: &str) -> Result<Vec<ScriptLine>, ZmprovError> {
    let mut out = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        let line = i + 1;
        let words = split_words(raw).map_err(|e| ZmprovError::new(line, ErrorCode::Syntax, e))?;
        let mut words = words.as_slice();
        if words.first().is_some_and(|w| w == "$") {
            words = &words[1..];
        }
        if words.first().is_some_and(|w| w == "zmprov") {
            words = &words[1..];
        }
        let (mut ldap, mut replace) = (false, false);
        while let Some(w) = words.first() {
            match w.as_str() {
                "-l" | "--ldap" => ldap = true,
                "-r" | "--replace" => replace = true,
                "-v" | "--verbose" | "-d" | "--debug" => {}
                _ => break,
            }
            words = &words[1..];
        }
        if words.is_empty() {
            continue;
        }
        let command = parse_command(words, line)?;
        out.push(ScriptLine {
            line,
            ldap,
            replace,
            command,
        });
    }
    Ok(out)
}

impl Command {
    /// The short zmprov name (`ca`, `md`, ...).
    pub fn short_name(&self) -> &'static str {
        match self {
            Command::CreateServer { .. } => "cs",
            Command::ModifyServer { .. } => "ms",
            Command::GetServer { .. } => "gs",
            Command::CreateDomain { .. } => "cd",
            Command::CreateAliasDomain { .. } => "cad",
            Command::ModifyDomain { .. } => "md",
            Command::GetDomain { .. } => "gd",
            Command::DeleteDomain { .. } => "dd",
            Command::RenameDomain { .. } => "rd",
            Command::CreateCos { .. } => "cc",
            Command::ModifyCos { .. } => "mc",
            Command::GetCos { .. } => "gc",
            Command::CreateAccount { .. } => "ca",
            Command::ModifyAccount { .. } => "ma",
            Command::GetAccount { .. } => "ga",
            Command::DeleteAccount { .. } => "da",
            Command::RenameAccount { .. } => "ra",
            Command::AddAccountAlias { .. } => "aaa",
            Command::RemoveAccountAlias { .. } => "raa",
            Command::CreateDistributionList { .. } => "cdl",
            Command::CreateDynamicGroup { .. } => "cddl",
            Command::AddDistributionListMember { .. } => "adlm",
            Command::RemoveDistributionListMember { .. } => "rdlm",
            Command::DeleteDistributionList { .. } => "ddl",
            Command::ModifyConfig { .. } => "mcf",
            Command::GetConfig { .. } => "gcf",
        }
    }

    /// The words of the command (name first), unquoted.
    pub fn words(&self) -> Vec<String> {
        fn push_attrs(w: &mut Vec<String>, attrs: &[AttrArg]) {
            for a in attrs {
                let prefix = match a.op {
                    AttrOp::Replace => "",
                    AttrOp::Add => "+",
                    AttrOp::Remove => "-",
                };
                w.push(format!("{prefix}{}", a.name));
                w.push(a.value.clone());
            }
        }
        let mut w = vec![self.short_name().to_string()];
        match self {
            Command::CreateServer { name: a, attrs }
            | Command::ModifyServer { server: a, attrs }
            | Command::CreateDomain { name: a, attrs }
            | Command::ModifyDomain { domain: a, attrs }
            | Command::CreateCos { name: a, attrs }
            | Command::ModifyCos { cos: a, attrs }
            | Command::ModifyAccount { account: a, attrs }
            | Command::CreateDistributionList { name: a, attrs }
            | Command::CreateDynamicGroup { name: a, attrs } => {
                w.push(a.clone());
                push_attrs(&mut w, attrs);
            }
            Command::CreateAliasDomain {
                alias,
                target,
                attrs,
            } => {
                w.push(alias.clone());
                w.push(target.clone());
                push_attrs(&mut w, attrs);
            }
            Command::CreateAccount {
                name,
                password,
                attrs,
            } => {
                w.push(name.clone());
                w.push(password.clone());
                push_attrs(&mut w, attrs);
            }
            Command::GetServer { server: a, attrs }
            | Command::GetDomain { domain: a, attrs }
            | Command::GetCos { cos: a, attrs }
            | Command::GetAccount { account: a, attrs }
            | Command::AddDistributionListMember {
                list: a,
                members: attrs,
            }
            | Command::RemoveDistributionListMember {
                list: a,
                members: attrs,
            } => {
                w.push(a.clone());
                w.extend(attrs.iter().cloned());
            }
            Command::DeleteDomain { domain: a }
            | Command::DeleteAccount { account: a }
            | Command::DeleteDistributionList { list: a }
            | Command::GetConfig { attr: a } => w.push(a.clone()),
            Command::RenameDomain {
                domain: a,
                new_name: b,
            }
            | Command::RenameAccount {
                account: a,
                new_name: b,
            }
            | Command::AddAccountAlias {
                account: a,
                alias: b,
            }
            | Command::RemoveAccountAlias {
                account: a,
                alias: b,
            } => {
                w.push(a.clone());
                w.push(b.clone());
            }
            Command::ModifyConfig { attrs } => push_attrs(&mut w, attrs),
        }
        w
    }
}

impl fmt::Display for Command {
    /// The command as a zmprov line, quoted so that [`parse_script`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.words().iter().map(|w| quote_word(w)).collect();
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(
            w("ma a 'x y' \"p\\\"q\" r\\ s"),
            ["ma", "a", "x y", "p\"q", "r s"]
        );
        assert_eq!(
            w("md d zimbraMailCatchAllAddress \"\""),
            ["md", "d", "zimbraMailCatchAllAddress", ""]
        );
        assert_eq!(w("ca a b # comment"), ["ca", "a", "b"]);
        assert_eq!(w("ca a#b"), ["ca", "a#b"]);
        assert!(split_words("ma 'open").is_err());
        assert!(split_words("ma \"open").is_err());
        assert!(split_words("ma x\\").is_err());
    }

    #[test]
    fn quote_word_round_trips() {
        for s in [
            "",
            "plain",
            "two words",
            "it's",
            "a\"b",
            "$x",
            "#hash",
            "back\\slash",
            "tab\there",
        ] {
            assert_eq!(w(&quote_word(s)), [s], "{s:?}");
        }
    }

    #[test]
    fn usage_errors() {
        let e = parse_script("ca only@example.org").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(
            e.to_string(),
            "line 1: usage:  createAccount(ca) {name@domain} {password} [attr1 value1 [attr2 value2...]]"
        );
        let e = parse_script("\n\nfrobnicate x").unwrap_err();
        assert_eq!(e.to_string(), "line 3: Unknown command: frobnicate");
        assert!(parse_script("ma a@b.c zimbraMailStatus").is_err());
    }

    #[test]
    fn long_names_and_prefixes() {
        let l = parse_script(
            "zmprov modifyAccount a@b.c +zimbraMailAlias x@b.c -zimbraMailAlias y@b.c",
        )
        .unwrap();
        match &l[0].command {
            Command::ModifyAccount { attrs, .. } => {
                assert_eq!(attrs[0].op, AttrOp::Add);
                assert_eq!(attrs[1].op, AttrOp::Remove);
                assert_eq!(attrs[1].name, "zimbraMailAlias");
            }
            other => panic!("{other:?}"),
        }
    }
}
