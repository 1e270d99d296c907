//! What the multi-MTA test runs: the cases (every step of every seed scenario, generated
//! split-domain topologies — a third with a lower-preference backup MX added — and every step of
//! generated migration plans, each with the directory of each Zimbra MTA) and the probes sent
//! through each (every entry point × every address the topology knows, an unknown user per
//! domain, an outside address; the MX fallback for domains with lower-preference MX hosts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use zimbra_prov::model::Directory;
use zimbra_prov::route::{default_sender, MtaKind, Topology, INTERNET_SENDER};
use zimbra_prov::scenario::Scenario;
use zimbra_prov::strategy::{migration_plan, split_domain_topology, SplitDomainSpec};

use super::{config, Entry, Probe};
/// One topology to run: a scenario step, a generated topology or a plan step.
pub struct Case {
    /// `file.toml#step (name)`, `topology N`, `plan N step K (name)`.
    pub name: String,
    pub topo: Topology,
    /// Per MTA: its directory (Zimbra MTAs).
    pub dirs: Vec<Option<Directory>>,
    /// Recipients the scenario's expectations name, with their entry.
    pub expected: Vec<(Entry, String)>,
}

/// Zimbra MTA name → directory name, per stage of a scenario file (the scenario's `[[mta]]`
/// tables, patched by each step).
pub fn mta_directories(path: &Path, stages: usize) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("scenario readable");
    let t: toml::Table = toml::from_str(&text).expect("scenario parses");
    let patch = |map: &mut BTreeMap<String, String>, mtas: Option<&toml::Value>| {
        for m in mtas.and_then(|v| v.as_array()).into_iter().flatten() {
            if let (Some(n), Some(d)) = (
                m.get("name").and_then(|v| v.as_str()),
                m.get("directory").and_then(|v| v.as_str()),
            ) {
                map.insert(n.to_string(), d.to_string());
            }
        }
    };
    let mut cur = BTreeMap::new();
    patch(&mut cur, t.get("mta"));
    let mut out = vec![cur.clone()];
    for step in t
        .get("step")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        patch(&mut cur, step.get("mta"));
        out.push(cur.clone());
    }
    out.truncate(stages);
    out
}

pub fn scenario_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // the runbook planner's sub-domain and MTA-head plans (issue 13: checked by the
    // whole-topology oracle): every state of the emitted scenario, as the golden files hold it
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for plan in ["subdomain", "mta_head"] {
        files.push(root.join(format!("tests/data/runbook/{plan}/golden/scenario.toml")));
    }
    let mut cases = Vec::new();
    for f in files {
        let sc = Scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let maps = mta_directories(&f, sc.stages.len());
        let file = match f.strip_prefix(root.join("tests/data/runbook")) {
            Ok(rel) => format!("runbook/{}", rel.display()),
            Err(_) => f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        for (k, st) in sc.stages.iter().enumerate() {
            let dirs = st
                .topology
                .mtas()
                .iter()
                .map(|m| {
                    maps[k]
                        .get(&m.name)
                        .and_then(|d| st.directories.get(d))
                        .map(|d| d.as_ref().clone())
                })
                .collect();
            cases.push(Case {
                name: format!("{file}#{k} ({})", st.name),
                topo: st.topology.clone(),
                dirs,
                expected: st
                    .expects
                    .iter()
                    .map(|e| {
                        let entry = match &e.from {
                            zimbra_prov::route::Entry::Internet => Entry::Internet,
                            zimbra_prov::route::Entry::Mta(m) => Entry::Mta(m.clone()),
                        };
                        (entry, e.rcpt.clone())
                    })
                    .collect(),
            });
        }
    }
    cases
}

pub fn directory_of(script: &str) -> Directory {
    let mut d = Directory::new();
    zimbra_prov::zmprov::run(&mut d, script).expect("generated script replays");
    d
}

/// The directories of a generated topology's MTAs, in topology order.
pub fn generated_dirs(
    topo: &Topology,
    primary: &str,
    secondaries: &[(zimbra_prov::strategy::SecondaryKind, String)],
) -> Vec<Option<Directory>> {
    topo.mtas()
        .iter()
        .map(|m| match (&m.kind, m.name.as_str()) {
            (MtaKind::Zimbra(_), "primary") => Some(directory_of(primary)),
            (MtaKind::Zimbra(_), n) => n
                .strip_prefix("secondary")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| secondaries.get(i))
                .map(|(_, s)| directory_of(s)),
            _ => None,
        })
        .collect()
}

/// A lower-preference backup MX for every third generated topology: another MTA of the
/// topology when one is not an MX host yet, else an outside host.
pub fn add_backup_mx(topo: &mut Topology, n: usize) {
    if n % 3 != 2 {
        return;
    }
    let Some((domain, recs)) = topo
        .dns
        .mx
        .iter()
        .next()
        .map(|(d, r)| (d.clone(), r.clone()))
    else {
        return;
    };
    let backup = topo
        .mtas()
        .iter()
        .map(|m| m.hostname.to_ascii_lowercase())
        .find(|h| !recs.iter().any(|(_, x)| x == h))
        .unwrap_or_else(|| format!("backup.{domain}"));
    let mut recs = recs;
    recs.push((20, backup));
    topo.dns.mx.insert(domain, recs);
}

pub fn generated_cases(seed: u64, topologies: usize, plans: usize) -> Vec<Case> {
    let mut runner = crate::oracle::seeded_runner(seed);
    let mut cases = Vec::new();
    let strat = split_domain_topology(SplitDomainSpec::default());
    for n in 0..topologies {
        let g = strat.new_tree(&mut runner).expect("generate").current();
        let mut topo = g.topology.clone();
        add_backup_mx(&mut topo, n);
        let dirs = generated_dirs(&topo, &g.primary_script, &g.secondaries);
        cases.push(Case {
            name: format!("topology {n}"),
            topo,
            dirs,
            expected: Vec::new(),
        });
    }
    let strat = migration_plan(SplitDomainSpec::default());
    for n in 0..plans {
        let p = strat.new_tree(&mut runner).expect("generate").current();
        for (k, ((stage, topo), script)) in p.stages.iter().zip(&p.primary_scripts).enumerate() {
            let dirs = generated_dirs(topo, script, &p.initial.secondaries);
            cases.push(Case {
                name: format!("plan {n} step {k} ({stage})"),
                topo: topo.clone(),
                dirs,
                expected: Vec::new(),
            });
        }
    }
    cases
}

// ---------------------------------------------------------------- probes

/// Every address the case's MTAs know, an unknown user per domain, an address at each MTA's
/// host name, an outside address.
pub fn addresses(case: &Case) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let mut domains: Vec<String> = Vec::new();
    for (m, d) in case.topo.mtas().iter().zip(&case.dirs) {
        if let Some(d) = d {
            for a in d.accounts() {
                v.push(a.name.to_string());
                v.extend(
                    a.attrs
                        .strs("zimbraMailAlias")
                        .iter()
                        .map(|s| s.to_string()),
                );
            }
            v.extend(d.lists().map(|l| l.name.to_string()));
            domains.extend(d.domains().map(|x| x.name.to_string()));
        }
        if let MtaKind::Foreign(f) = &m.kind {
            v.extend(f.mailboxes.iter().cloned());
            v.extend(f.aliases.keys().cloned());
            v.extend(f.routes.keys().filter(|k| k.contains('@')).cloned());
            domains.extend(f.domains.iter().cloned());
        }
    }
    v.extend(domains.iter().map(|d| format!("nobody@{d}")));
    // an address at an MTA's own host name: not a domain it serves, so its SMTP client finds
    // itself as the destination ("mail for X loops back to myself")
    v.extend(
        case.topo
            .mtas()
            .iter()
            .map(|m| format!("postmaster@{}", m.hostname)),
    );
    v.extend(case.expected.iter().map(|(_, r)| r.clone()));
    v.push("friend@elsewhere.example".into());
    let mut seen = BTreeSet::new();
    v.retain(|a| seen.insert(a.to_ascii_lowercase()));
    v
}

pub fn domain_of(a: &str) -> &str {
    a.rsplit_once('@').map_or("", |(_, d)| d)
}

/// A probe with the simulator's default envelope sender for its entry point.
pub fn probe(topo: &Topology, entry: &Entry, rcpt: &str) -> Probe {
    let sender = match entry {
        Entry::Internet | Entry::Fallback => INTERNET_SENDER.to_string(),
        Entry::Mta(m) => default_sender(topo, &zimbra_prov::route::Entry::Mta(m.clone())),
    };
    Probe {
        entry: entry.clone(),
        rcpt: rcpt.to_string(),
        sender,
    }
}

pub fn probes(case: &Case) -> Vec<Probe> {
    let addrs = addresses(case);
    let down = config::down_hosts(&case.topo);
    let mut out = Vec::new();
    let mut entries = vec![Entry::Internet];
    entries.extend(case.topo.mtas().iter().map(|m| Entry::Mta(m.name.clone())));
    for e in &entries {
        for a in &addrs {
            out.push(probe(&case.topo, e, a));
        }
    }
    if !down.is_empty() {
        for a in &addrs {
            if config::fallback_hosts(&case.topo, domain_of(a), &down).is_some()
                && down_applies(&case.topo, domain_of(a), &down)
            {
                out.push(probe(&case.topo, &Entry::Fallback, a));
            }
        }
    }
    for (e, r) in &case.expected {
        let p = probe(&case.topo, e, r);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Whether some best-preference MX host of `domain` is down in the fallback view.
pub fn down_applies(topo: &Topology, domain: &str, down: &BTreeSet<String>) -> bool {
    topo.dns.mx_of(domain).is_some_and(|mx| {
        mx.iter()
            .any(|(_, h)| down.contains(&h.to_ascii_lowercase()))
    })
}

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed CI uses; `ZIMBRA_PROV_DIFF_SEED` picks another (or `random`).
pub const DEFAULT_SEED: u64 = 20_261_130;

pub fn seed() -> u64 {
    crate::oracle::diff_seed(DEFAULT_SEED)
}
