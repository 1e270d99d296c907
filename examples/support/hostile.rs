//! Hostile topologies for `verify` (issue 14): scenario TOML text, so that both the library
//! (`Scenario::parse`) and the `route verify` tool read them. Shared by
//! `examples/verify_hostile.rs` and `tests/verify_bounded.rs`.

#![allow(dead_code)]

use std::fmt::Write as _;

/// K Zimbra MTAs `m0 .. m{K-1}`, each serving its own domain `d{i}.test` (MX → `m{i}`) from its
/// own directory, where `list@d{i}.test` is a distribution list whose members are the lists of
/// every other domain, plus one local account `user@d{i}.test`: mail to any list fans out to
/// every MTA, whose lists fan out again, until the hop limit (a mail storm).
pub fn all_to_all(k: usize) -> String {
    let mut s = format!("name = \"all-to-all distribution lists over {k} Zimbra MTAs\"\n");
    for i in 0..k {
        let mut z = format!(
            "cs m{i}.test\ncd d{i}.test\nca user@d{i}.test pw\ncdl list@d{i}.test\nadlm list@d{i}.test user@d{i}.test"
        );
        for j in (0..k).filter(|j| *j != i) {
            let _ = write!(z, " list@d{j}.test");
        }
        let _ = write!(
            s,
            "[[directory]]\nname = \"d{i}\"\nzmprov = \"\"\"\n{z}\n\"\"\"\n\
             [[mta]]\nname = \"m{i}\"\nkind = \"zimbra\"\nhostname = \"m{i}.test\"\ndirectory = \"d{i}\"\nmynetworks = [\"10.0.0.0/8\"]\n"
        );
    }
    s.push_str("[dns]\nmx = {");
    for i in 0..k {
        let _ = write!(
            s,
            "{} \"d{i}.test\" = [\"10 m{i}.test\"]",
            if i > 0 { "," } else { "" }
        );
    }
    s.push_str(" }\na = {");
    for i in 0..k {
        let _ = write!(
            s,
            "{} \"m{i}.test\" = \"10.0.{}.{}\"",
            if i > 0 { "," } else { "" },
            i / 250,
            i % 250 + 1
        );
    }
    s.push_str(" }\n");
    s
}

/// A forwarding chain of `n` accounts: `u{i}` forwards to `u{i+1}` (keeping a local copy).
/// With `across` false, every account lives in `chain.test` on one Zimbra MTA `a` (the chain is
/// one virtual alias expansion); with `across` true, even accounts live in `c0.test` on `a` and
/// odd ones in `c1.test` on `b` (separate directories), so every link is an SMTP hop.
pub fn chain(n: usize, across: bool) -> String {
    let dom = |i: usize| {
        if !across {
            "chain.test".to_string()
        } else {
            format!("c{}.test", i % 2)
        }
    };
    let mut dirs = [
        String::from("cs a.chain.test\n"),
        String::from("cs b.chain.test\n"),
    ];
    dirs[0].push_str(&format!("cd {}\n", dom(0)));
    if across {
        dirs[1].push_str(&format!("cd {}\n", dom(1)));
    }
    for i in 0..n {
        let side = usize::from(across && i % 2 == 1);
        let host = if side == 1 { "b" } else { "a" };
        let z = &mut dirs[side];
        let _ = write!(
            z,
            "ca u{i}@{} pw zimbraMailHost {host}.chain.test zimbraMailTransport lmtp:{host}.chain.test:7025",
            dom(i)
        );
        if i + 1 < n {
            let _ = write!(z, " zimbraMailForwardingAddress u{}@{}", i + 1, dom(i + 1));
        }
        z.push('\n');
    }
    let mut s = format!("name = \"forwarding chain of {n} accounts\"\n");
    let sides = if across { 2 } else { 1 };
    for (k, name) in ["a", "b"].iter().enumerate().take(sides) {
        let _ = write!(
            s,
            "[[directory]]\nname = \"{name}\"\nzmprov = \"\"\"\n{}\"\"\"\n\
             [[mta]]\nname = \"{name}\"\nkind = \"zimbra\"\nhostname = \"{name}.chain.test\"\ndirectory = \"{name}\"\nmynetworks = [\"10.0.0.0/8\"]\n",
            dirs[k]
        );
    }
    if across {
        s.push_str("[dns]\nmx = { \"c0.test\" = [\"10 a.chain.test\"], \"c1.test\" = [\"10 b.chain.test\"] }\n");
    } else {
        s.push_str("[dns]\nmx = { \"chain.test\" = [\"10 a.chain.test\"] }\n");
    }
    s.push_str("a = { \"a.chain.test\" = \"10.0.0.1\", \"b.chain.test\" = \"10.0.0.2\" }\n");
    s
}
