//! Differential fidelity: the simulator's single-MTA decision against a real Postfix 3.7 +
//! slapd reading Zimbra's eight `ldap-*.cf` filters (the oracle of `tests/support/oracle.rs`).
//!
//! Random directories come from [`zimbra_prov::strategy::directory`] (accounts in every status,
//! transports of every form, aliases, lists with members, forwarding with and without local
//! delivery, catch-all accounts, split-domain catch-alls with a domain transport, alias domains,
//! canonical addresses, disabled accounts). Each is written with the crate's LDIF writer
//! (`dit::write_directory`, slapadd mode), loaded into a fresh slapd with the crate's generated
//! schema, and a set of addresses (existing, aliases, lists, members, catch-all targets, disabled,
//! unknown users, unknown domains, mixed case, `+ext`, quoted local parts) is routed by both the
//! oracle and `ZimbraMta::decide` for a locally submitted message. Lines must be equal.
//!
//! Half the directories run with Zimbra's defaults, half with `recipient_delimiter = +` and the
//! ldap-vam.cf filter that matches `zimbraOldMailAddress` (`--old-address-filter`).
//!
//! Environment: `ZIMBRA_PROV_DIFF_SEED` picks the seed (a number, or `random`; the default is a
//! fixed seed so that CI is repeatable, and the seed is printed either way);
//! `ZIMBRA_PROV_DIFF_DIRS` (default 50) and `ZIMBRA_PROV_DIFF_ADDRS` (default 64 per directory)
//! make a run longer. A disagreement fails the test and leaves a reproduction under
//! `target/oracle-diff/` (directory LDIF, zmprov script, addresses, both answers, seed).
//!
//! Deliberate deviations are listed in [`DEVIATIONS`]; each has its own test below.

#[path = "support/oracle.rs"]
mod oracle;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use oracle::{Oracle, OracleConfig, OracleLine};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use zimbra_prov::dit;
use zimbra_prov::model::Directory;
use zimbra_prov::route::{Arrival, ZimbraMta, ZimbraParams};
use zimbra_prov::strategy::{directory, DirectorySpec, GeneratedDirectory};

/// Deliberate deviations of the simulator from the oracle: (name, why, predicate on the address
/// and both lines). A disagreement is tolerated only when one of these explains it.
type Deviation = (&'static str, &'static str, fn(&str, &str, &str) -> bool);

const DEVIATIONS: &[Deviation] = &[
    (
        "queue-case",
        "The transport and next hop of a delivery, and the text of an `error:` bounce caused by \
         `virtual_transport = error`, take their letter case from whichever recipient created \
         Postfix's queue-manager queue for that destination first (queues are named \
         case-insensitively), so the case depends on timing: `smtp:MX.PARTNER.TEST` in one run, \
         `smtp:mx.partner.test` in the next. The simulator uses each recipient's own spelling. \
         Only the action part of each item is compared case-insensitively; the address and the \
         final recipients must match exactly.",
        |_, sim, ora| sim != ora && queue_case_folded(sim) == queue_case_folded(ora),
    ),
    (
        "syntax",
        "An address Postfix's smtpd refuses as syntactically bad is a 501 5.1.3 reject in the \
         simulator's decision (it models the RCPT stage); the oracle submits over SMTP and \
         records the refusal as `bounce (smtpd: Bad recipient address syntax [5.1.3])`.",
        |_, sim, ora| {
            sim.contains("reject (501 5.1.3") && ora.contains("Bad recipient address syntax")
        },
    ),
];

/// The line with the action part of every item (`transport:nexthop`, `bounce (...)`, before
/// ` <FINAL>`) lower-cased; the address and the final recipients keep their case.
fn queue_case_folded(line: &str) -> String {
    let Some((addr, items)) = line.split_once(" -> ") else {
        return line.to_string();
    };
    let items: Vec<String> = items
        .split(" | ")
        .map(|item| match item.rfind(" <") {
            Some(i) if item.ends_with('>') => {
                format!("{}{}", item[..i].to_lowercase(), &item[i..])
            }
            _ => item.to_lowercase(),
        })
        .collect();
    format!("{addr} -> {}", items.join(" | "))
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed CI uses, so that every CI run checks the same 50 directories; set
/// `ZIMBRA_PROV_DIFF_SEED` to a number to repeat another run, or to `random` to explore.
const DEFAULT_SEED: u64 = 20_261_128;

fn seed() -> u64 {
    match std::env::var("ZIMBRA_PROV_DIFF_SEED").as_deref() {
        Err(_) | Ok("") => DEFAULT_SEED,
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        Ok(s) => s
            .parse()
            .expect("ZIMBRA_PROV_DIFF_SEED must be a number or `random`"),
    }
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// The addresses routed for one directory: the generator's interesting addresses, each account
/// and list in upper case and with a `+ext`, each account in every alias domain, unknown users
/// in every domain, a quoted local part; then a deterministic spread of `want` of them.
fn addresses(g: &GeneratedDirectory, want: usize) -> Vec<String> {
    let d = &g.directory;
    let mut v = g.interesting_addresses();
    let alias_domains: Vec<String> = d
        .domains()
        .filter(|x| x.is_alias())
        .map(|x| x.name.to_string())
        .collect();
    let mut names: Vec<String> = d.accounts().map(|a| a.name.to_string()).collect();
    names.extend(d.lists().map(|l| l.name.to_string()));
    for n in &names {
        v.push(n.to_ascii_uppercase());
        v.push(n.replacen('@', "+ext@", 1));
        if let Some((l, dom)) = n.split_once('@') {
            v.push(format!("{l}@{}", dom.to_ascii_uppercase()));
        }
    }
    for a in d.accounts() {
        for ad in &alias_domains {
            v.push(format!("{}@{ad}", a.name.local()));
        }
        if let Some(old) = a.attrs.first("zimbraOldMailAddress") {
            v.push(old.to_string());
        }
    }
    for dom in d.domains() {
        v.push(format!("Random.Person@{}", dom.name));
        v.push(format!("nobody+x@{}", dom.name));
        v.push(format!("\"john smith\"@{}", dom.name));
    }
    v.sort();
    v.dedup();
    // a spread that does not favour the start of the alphabet
    let h = |s: &str| {
        s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    v.sort_by_key(|a| h(a));
    v.truncate(want);
    v
}

fn params(dir: &Directory, cfg: &OracleConfig) -> ZimbraParams {
    let mut p = ZimbraParams::from_directory(dir, "mta.zimbra-prov.test");
    p.recipient_delimiter = cfg.recipient_delimiter.clone();
    p.old_address_filter = cfg.old_address_filter;
    p.relayhost = (!cfg.relayhost.is_empty()).then(|| cfg.relayhost.clone());
    p
}

struct Outcome {
    decisions: usize,
    deviations: usize,
    failures: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn compare_directory(
    oracle: &mut Oracle,
    cfg: &OracleConfig,
    g: &GeneratedDirectory,
    addrs: &[String],
    seed: u64,
    n: usize,
    out: &mut Outcome,
) {
    let mut ldif = Vec::new();
    dit::write_directory(&g.directory, &mut ldif, &dit::WriteOptions::slapadd()).expect("LDIF");
    let ldif = String::from_utf8(ldif).expect("UTF-8 LDIF");
    oracle
        .load_ldif(&ldif)
        .unwrap_or_else(|e| panic!("seed {seed} dir {n}: load: {e}"));
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let answers = oracle
        .route(&refs)
        .unwrap_or_else(|e| panic!("seed {seed} dir {n}: route: {e}"));
    let mta = ZimbraMta::new(&g.directory, params(&g.directory, cfg));
    let mut bad: Vec<(String, String, String)> = Vec::new();
    for (addr, ora) in addrs.iter().zip(&answers) {
        out.decisions += 1;
        let sim_text = mta.decide_quiet(addr, Arrival::PICKUP).line();
        let sim = OracleLine::parse(&sim_text)
            .map(|l| l.text())
            .unwrap_or(sim_text.clone());
        let ora_text = ora.text();
        if sim == ora_text {
            continue;
        }
        if DEVIATIONS.iter().any(|(_, _, f)| f(addr, &sim, &ora_text)) {
            out.deviations += 1;
            continue;
        }
        bad.push((addr.clone(), sim, ora_text));
    }
    if bad.is_empty() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/oracle-diff")
        .join(format!("seed-{seed}-dir-{n}"));
    std::fs::create_dir_all(&dir).expect("reproduction dir");
    let mut report = format!(
        "seed {seed}, directory {n}, recipient_delimiter {:?}, old_address_filter {}\n",
        cfg.recipient_delimiter, cfg.old_address_filter
    );
    for (a, s, o) in &bad {
        let _ = writeln!(report, "address   {a}\nsimulator {s}\noracle    {o}\n");
    }
    std::fs::write(dir.join("directory.ldif"), &ldif).ok();
    std::fs::write(dir.join("script.zmprov"), &g.script).ok();
    std::fs::write(dir.join("addresses"), addrs.join("\n") + "\n").ok();
    std::fs::write(dir.join("report.txt"), &report).ok();
    out.failures.push(format!(
        "{report}reproduction: {}\n  (route decide {} --addrs {}{}{})",
        dir.display(),
        dir.join("directory.ldif").display(),
        dir.join("addresses").display(),
        if cfg.old_address_filter {
            " --old-address-filter"
        } else {
            ""
        },
        if cfg.recipient_delimiter.is_empty() {
            String::new()
        } else {
            format!(" --recipient-delimiter '{}'", cfg.recipient_delimiter)
        },
    ));
}

#[test]
fn simulator_agrees_with_postfix_and_slapd() {
    if !oracle::services_or_skip("simulator_agrees_with_postfix_and_slapd") {
        return;
    }
    let seed = seed();
    let dirs = env_num("ZIMBRA_PROV_DIFF_DIRS", 50) as usize;
    let per_dir = env_num("ZIMBRA_PROV_DIFF_ADDRS", 64) as usize;
    println!("oracle differential: seed {seed} (repeat with ZIMBRA_PROV_DIFF_SEED={seed}), {dirs} directories");
    let started = Instant::now();
    let mut runner = runner(seed);
    let strat = directory(DirectorySpec::default().with_max_ops(40));
    let configs = [
        OracleConfig::default(),
        OracleConfig {
            recipient_delimiter: "+".into(),
            old_address_filter: true,
            ..OracleConfig::default()
        },
    ];
    let mut out = Outcome {
        decisions: 0,
        deviations: 0,
        failures: Vec::new(),
    };
    let mut n = 0;
    for (ci, cfg) in configs.iter().enumerate() {
        let mut oracle = Oracle::start(cfg.clone()).expect("oracle starts");
        let share = if ci == 0 { dirs / 2 } else { dirs - dirs / 2 };
        for _ in 0..share {
            let g = strat.new_tree(&mut runner).expect("generate").current();
            let addrs = addresses(&g, per_dir);
            compare_directory(&mut oracle, cfg, &g, &addrs, seed, n, &mut out);
            n += 1;
        }
    }
    println!(
        "oracle differential: seed {seed}: {} decisions over {n} directories ({} deliberate deviations) in {:.1} s",
        out.decisions,
        out.deviations,
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.failures.is_empty(),
        "the simulator disagrees with Postfix (seed {seed}):\n{}",
        out.failures.join("\n")
    );
    if dirs >= 50 {
        assert!(out.decisions >= 2000, "only {} decisions", out.decisions);
    }
}
