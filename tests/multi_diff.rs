//! Whole-topology fidelity: the simulator's multi-hop answer against real Postfix MTAs
//! exchanging real mail.
//!
//! For every step of every seed scenario under `tests/scenarios`, for generated split-domain
//! topologies ([`strategy::split_domain_topology`], a third of them with a lower-preference
//! backup MX added) and for every step of generated migration plans
//! ([`strategy::migration_plan`]), the topology runs as real daemons (`tests/support/multi`):
//! one Postfix 3.7 per MTA — Zimbra MTAs with their own slapd loaded from the crate's slapadd
//! LDIF ([`dit::write_directory`]) and Zimbra's `ldap-*.cf` maps, foreign MTAs as plain Postfix
//! with tables built from the scenario's foreign-MTA tables — an authoritative DNS server with
//! the topology's MX and A records, the Internet's sending MTAs and a sink for the rest of the
//! Internet, all on loopback addresses of a private network namespace. Every probe (from the
//! Internet through the best MX, through the MX fallback when the best MX hosts are down, and
//! from each MTA; to accounts, aliases, lists, mailboxes, unknown users and outside addresses)
//! is sent over SMTP and followed, with the DSN it causes, through the MTAs' logs. The real
//! leaves — outcome, deciding MTA, status code, final mailbox, the MTA path (so the refusal
//! hop), the hop at which a loop is refused, and the DSN of every failed leaf (who wrote it,
//! its fate and where it ended: the refusal went to the client, delivered to the sender's
//! mailbox, left the topology, double bounce, deferred) — must equal the simulator's (one of its
//! alternatives where equal-preference MX hosts make it choose). Each probe's envelope sender is
//! the simulator's default sender of its entry point, so the real DSN takes the simulated route.
//!
//! The run happens inside `unshare --mount --net --pid`: the outer test
//! ([`multi_mta_topologies_agree_with_the_simulator`]) re-runs this binary's
//! [`inner_multi_mta_run`] there and reports what it printed.
//!
//! Besides the seed scenarios, every state of the runbook planner's sub-domain and MTA-head
//! golden plans (`tests/data/runbook/*/golden/scenario.toml`) is replayed.
//!
//! Environment: `ZIMBRA_PROV_DIFF_SEED` (a number or `random`; the default is fixed so CI is
//! repeatable), `ZIMBRA_PROV_MULTI_TOPOLOGIES` (generated topologies, default 20),
//! `ZIMBRA_PROV_MULTI_PLANS` (generated plans, default 5), `ZIMBRA_PROV_MULTI_ONLY=TEXT` (only
//! the cases whose name contains TEXT, e.g. `both_forward` or `plan 2`), `ZIMBRA_PROV_ORACLE_KEEP=1`
//! (keep the work directory). The figures go to `target/multi-diff-summary.txt`, a disagreement
//! report to `target/multi-diff/report.txt`.

#[path = "support/oracle.rs"]
mod oracle;

#[path = "support/multi/mod.rs"]
mod multi;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use multi::cases::{env_num, generated_cases, probe, probes, scenario_cases, seed, Case};
use multi::compare::{differences, key, real_dsn, real_key, simulated, DsnKey, Key, LMTP_REFUSED};
use multi::{Entry, Lab, Probe, RealResult};
use zimbra_prov::dit;
use zimbra_prov::model::Directory;
use zimbra_prov::route::MtaKind;

// ---------------------------------------------------------------- deviations

/// Deliberate differences between the simulator and the real topology: (name, why,
/// predicate on the probe, the real leaves and the simulator's alternatives).
type Deviation = (
    &'static str,
    &'static str,
    fn(&Probe, &[Key], &[Vec<Key>]) -> bool,
);

const DEVIATIONS: &[Deviation] = &[(
    "mailbox-server",
    "Zimbra's mailbox server (mailboxd answering LMTP) is not part of the real topology: \
     Postfix hands the message to the LMTP next hop (discard(8) here, which accepts), while the \
     simulator goes on to model mailboxd's answer (no such account, maintenance, closed: \
     5.1.1/4.2.x). Compared is the hand-off — the LMTP host, the recipient and the path; the \
     mailbox server's answer itself is modelled, not checked.",
    |_, real, sim| {
        sim.iter().any(|alt| {
            let mut handed: Vec<Key> = alt
                .iter()
                .map(|k| {
                    if k.outcome == LMTP_REFUSED {
                        // delivered: no DSN
                        key("delivered", &k.at, "", &k.mailbox, &k.via)
                    } else {
                        k.clone()
                    }
                })
                .collect();
            handed.sort();
            alt.iter().any(|k| k.outcome == LMTP_REFUSED) && handed == real
        })
    },
)];

// ---------------------------------------------------------------- the run

struct Row {
    case: usize,
    probe: Probe,
    sender: String,
    real: Vec<Key>,
    sim: Vec<Vec<Key>>,
    verdict: Verdict,
    dsn: Vec<DsnKey>,
    queued: Option<(String, String)>,
    trace: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Agree,
    Deviation(&'static str),
    Disagree,
}

fn compare(case_no: usize, case: &Case, p: &Probe, r: &RealResult) -> Row {
    let (traces, sim) = simulated(case, p);
    let mut real: Vec<Key> = r
        .leaves
        .iter()
        .zip(r.dsns.iter().chain(std::iter::repeat(&None)))
        .map(|(l, d)| real_key(l, d.as_ref()))
        .collect();
    real.sort();
    if let Some(e) = &r.error {
        real.push(key("harness-error", e, "", "", &[]));
    } else if !r.complete {
        real.push(key("incomplete", "", "", "", &[]));
    }
    let verdict = if sim.contains(&real) {
        Verdict::Agree
    } else {
        match DEVIATIONS.iter().find(|(_, _, f)| f(p, &real, &sim)) {
            Some((n, _, _)) => Verdict::Deviation(n),
            None => Verdict::Disagree,
        }
    };
    let dsn = r
        .leaves
        .iter()
        .zip(r.dsns.iter().chain(std::iter::repeat(&None)))
        .filter_map(|(l, d)| real_dsn(l, d.as_ref()))
        .collect();
    Row {
        case: case_no,
        probe: p.clone(),
        sender: r.sender.clone(),
        real,
        sim,
        verdict,
        dsn,
        queued: r.queued.clone(),
        trace: traces
            .iter()
            .map(|t| t.to_text())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn ldif_of(d: &Directory) -> String {
    let mut buf = Vec::new();
    dit::write_directory(d, &mut buf, &dit::WriteOptions::slapadd()).expect("LDIF");
    String::from_utf8(buf).expect("UTF-8 LDIF")
}

fn describe(case: &Case) -> String {
    let mut s = String::new();
    for (m, d) in case.topo.mtas().iter().zip(&case.dirs) {
        let kind = match &m.kind {
            MtaKind::Zimbra(z) => format!(
                "zimbra, relayhost {:?}, mynetworks {:?}, dns lookups {}, hop limit {}, {} accounts",
                z.params.relayhost,
                z.params.mynetworks,
                z.params.dns_lookups,
                z.params.hopcount_limit,
                d.as_ref().map_or(0, |d| d.accounts().count())
            ),
            MtaKind::Foreign(f) => format!("foreign {f:?}"),
            _ => "?".into(),
        };
        let _ = writeln!(s, "  {} ({}): {kind}", m.name, m.hostname);
    }
    let _ = writeln!(s, "  dns mx {:?}", case.topo.dns.mx);
    let _ = writeln!(s, "  dns a {:?}", case.topo.dns.a);
    s
}

#[derive(Default)]
struct Tally {
    probes: usize,
    agree: usize,
    deviations: BTreeMap<&'static str, usize>,
    by_entry: BTreeMap<&'static str, usize>,
    by_outcome: BTreeMap<&'static str, usize>,
    self_loops: usize,
    relay_hosts: usize,
    dsn_fates: BTreeMap<&'static str, usize>,
}

fn uses_relay_host(trace: &str) -> bool {
    trace.contains("relay host ")
        || trace.contains("via relayhost")
        || trace.contains("policy relay")
}

/// One line per probe: verdict, case, entry, recipient, real leaves, DSN fates.
fn probe_lines(cases: &[Case], rows: &[Row]) -> String {
    let mut s = String::new();
    for r in rows {
        let v = match r.verdict {
            Verdict::Agree => "ok".to_string(),
            Verdict::Deviation(n) => format!("deviation {n}"),
            Verdict::Disagree => "DIFF".to_string(),
        };
        let _ = writeln!(
            s,
            "{v}\t{}\t{} -> {}\t{}\t{}",
            cases[r.case].name,
            r.probe.entry,
            r.probe.rcpt,
            r.real
                .iter()
                .map(Key::to_string)
                .collect::<Vec<_>>()
                .join(" | "),
            r.dsn
                .iter()
                .map(DsnKey::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    s
}

#[test]
#[ignore = "runs only inside the private namespaces multi_mta_topologies_agree_with_the_simulator creates"]
fn inner_multi_mta_run() {
    let work = multi::net::inside().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let seed = seed();
    let topologies = env_num("ZIMBRA_PROV_MULTI_TOPOLOGIES", 20) as usize;
    let plans = env_num("ZIMBRA_PROV_MULTI_PLANS", 5) as usize;
    let mut cases = scenario_cases();
    cases.extend(generated_cases(seed, topologies, plans));
    // a debugging aid: only the cases whose name contains this text
    let only = std::env::var("ZIMBRA_PROV_MULTI_ONLY").unwrap_or_default();
    cases.retain(|c| c.name.contains(only.as_str()));
    let count = |f: &dyn Fn(&str) -> bool| cases.iter().filter(|c| f(&c.name)).count();
    let scenario_steps = count(&|n| n.contains(".toml#"));
    let generated_topologies = count(&|n| n.starts_with("topology "));
    let plan_steps = count(&|n| n.starts_with("plan "));
    println!(
        "multi-MTA differential: seed {seed} (repeat with ZIMBRA_PROV_DIFF_SEED={seed}), {} cases",
        cases.len()
    );
    let mut lab = Lab::start(&work).unwrap_or_else(|e| panic!("starting the lab: {e}"));
    let mut rows: Vec<Row> = Vec::new();
    let mut case_lines = Vec::new();
    let mut deploy_time = Duration::ZERO;
    let mut probe_time = Duration::ZERO;
    for (n, case) in cases.iter().enumerate() {
        let ldifs: Vec<Option<String>> =
            case.dirs.iter().map(|d| d.as_ref().map(ldif_of)).collect();
        let t0 = Instant::now();
        lab.deploy(&case.topo, &|i| ldifs[i].clone().unwrap_or_default())
            .unwrap_or_else(|e| {
                panic!(
                    "{}: deploying the topology: {e}\n{}",
                    case.name,
                    describe(case)
                )
            });
        deploy_time += t0.elapsed();
        let ps = probes(case);
        let t1 = Instant::now();
        let real = lab.run(&ps, Duration::from_secs(120));
        probe_time += t1.elapsed();
        let before = rows.len();
        for (p, r) in ps.iter().zip(&real) {
            rows.push(compare(n, case, p, r));
        }
        let agree = rows[before..]
            .iter()
            .filter(|r| r.verdict == Verdict::Agree)
            .count();
        let line = format!(
            "{}: {} MTAs ({}), {} probes, {} agree, {} deviations, {} disagree ({:.1}+{:.1} s)",
            case.name,
            case.topo.mtas().len(),
            case.topo
                .mtas()
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            rows.len() - before,
            agree,
            rows[before..]
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Deviation(_)))
                .count(),
            rows[before..]
                .iter()
                .filter(|r| r.verdict == Verdict::Disagree)
                .count(),
            t1.duration_since(t0).as_secs_f64(),
            t1.elapsed().as_secs_f64(),
        );
        println!("{line}");
        case_lines.push(line);
    }
    // ---- figures
    let mut t = Tally::default();
    for r in &rows {
        t.probes += 1;
        match r.verdict {
            Verdict::Agree => t.agree += 1,
            Verdict::Deviation(n) => *t.deviations.entry(n).or_default() += 1,
            Verdict::Disagree => {}
        }
        *t.by_entry
            .entry(match r.probe.entry {
                Entry::Internet => "internet",
                Entry::Fallback => "MX fallback",
                Entry::Mta(_) => "from an MTA",
            })
            .or_default() += 1;
        for k in &r.real {
            *t.by_outcome.entry(k.outcome).or_default() += 1;
            if k.status == "5.4.6" {
                t.self_loops += 1;
            }
        }
        if uses_relay_host(&r.trace) {
            t.relay_hosts += 1;
        }
        for d in &r.dsn {
            *t.dsn_fates.entry(d.fate).or_default() += 1;
        }
    }
    let disagree: Vec<&Row> = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Disagree)
        .collect();
    let stale: Vec<&str> = DEVIATIONS
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| !t.deviations.contains_key(n))
        .collect();
    let dir = target_dir().join("multi-diff");
    std::fs::create_dir_all(&dir).ok();
    std::fs::remove_file(dir.join("report.txt")).ok();
    std::fs::write(dir.join("probes.txt"), probe_lines(&cases, &rows)).ok();
    let lab_t = lab.timing();
    let sunk = lab.sink.messages();
    let summary = format!(
        "multi-MTA differential: seed {seed}: {} topologies ({} scenario steps, {} generated topologies, {} steps of {} generated plans), {} probes ({}), {} agree, {} deliberate deviations {:?}, {} disagreements, in {:.1} s (deploy {:.1} s, probes {:.1} s)\n\
         MTA instances (summed over parallel starts): slapadd+slapd {:.1} s, postfix start {:.1} s, queue emptying {:.1} s, postfix reload {:.1} s\n\
         real outcomes: {:?}; self-loops (5.4.6): {}; through a relay host: {}\n\
         DSNs of undelivered branches: {:?}; the sink received {} messages ({} DSNs)\n",
        cases.len(),
        scenario_steps,
        generated_topologies,
        plan_steps,
        plans,
        t.probes,
        t.by_entry.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        t.agree,
        t.deviations.values().sum::<usize>(),
        t.deviations,
        disagree.len(),
        started.elapsed().as_secs_f64(),
        deploy_time.as_secs_f64(),
        probe_time.as_secs_f64(),
        lab_t[0].as_secs_f64(),
        lab_t[1].as_secs_f64(),
        lab_t[2].as_secs_f64(),
        lab_t[3].as_secs_f64(),
        t.by_outcome,
        t.self_loops,
        t.relay_hosts,
        t.dsn_fates,
        sunk.len(),
        sunk.iter().filter(|m| m.from.is_empty()).count(),
    );
    println!("{summary}");
    let target = target_dir();
    std::fs::create_dir_all(&target).ok();
    std::fs::write(
        target.join("multi-diff-summary.txt"),
        format!("{summary}{}\n", case_lines.join("\n")),
    )
    .ok();
    assert!(
        stale.is_empty() || !only.is_empty(),
        "deliberate deviations no probe needed any more (remove them): {stale:?}"
    );
    if disagree.is_empty() {
        return;
    }
    // ---- the report
    let mut report = format!(
        "{} of {} probes disagree (seed {seed}); configs and maillogs of every instance: {}\n\n",
        disagree.len(),
        rows.len(),
        work.display()
    );
    let mut shown_cases = BTreeSet::new();
    for r in disagree.iter().take(40) {
        let case = &cases[r.case];
        if shown_cases.insert(r.case) {
            let _ = writeln!(report, "== {}\n{}", case.name, describe(case));
        }
        let _ = writeln!(
            report,
            "probe  {} -> {} (sender {}, entered at {:?})",
            r.probe.entry, r.probe.rcpt, r.sender, r.queued
        );
        let _ = writeln!(report, "  differs:   {}", differences(&r.real, &r.sim));
        let _ = writeln!(
            report,
            "  real:      {}",
            r.real
                .iter()
                .map(Key::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for (i, s) in r.sim.iter().enumerate() {
            let _ = writeln!(
                report,
                "  simulator{}: {}",
                if r.sim.len() > 1 {
                    format!(" (alternative {})", i + 1)
                } else {
                    String::new()
                },
                s.iter().map(Key::to_string).collect::<Vec<_>>().join(" | ")
            );
        }
        for d in &r.dsn {
            let _ = writeln!(report, "  real DSN:  {d}");
        }
        let _ = writeln!(
            report,
            "  simulator trace:\n    {}\n",
            r.trace.trim_end().replace('\n', "\n    ")
        );
    }
    std::fs::write(dir.join("report.txt"), &report).ok();
    std::fs::write(work.join("KEEP"), "").ok();
    panic!(
        "the simulator disagrees with the real topology on {} probes (report: {}):\n{report}",
        disagree.len(),
        dir.join("report.txt").display()
    );
}

fn deviation(name: &str) -> fn(&Probe, &[Key], &[Vec<Key>]) -> bool {
    oracle::deviation(DEVIATIONS, name)
}

/// The real run of `unset_split_domain.toml` step 1 delivers `old@` (no account, domain
/// transport lmtp) to the LMTP next hop; the simulator has the mailbox server refuse it. The
/// deviation explains exactly that and nothing else.
#[test]
fn deviation_mailbox_server_is_only_the_lmtp_answer() {
    let case = scenario_cases()
        .into_iter()
        .find(|c| c.name.starts_with("unset_split_domain.toml#1"))
        .expect("the scenario step");
    let p = probe(
        &case.topo,
        &Entry::Mta("zimbra".into()),
        "old@yyy.state.xx.us",
    );
    let (_, sim) = simulated(&case, &p);
    assert_eq!(sim.len(), 1);
    assert_eq!(sim[0][0].outcome, LMTP_REFUSED, "{sim:?}");
    assert_eq!(sim[0][0].status, "5.1.1");
    let via = ["zimbra".to_string()];
    let handed = key(
        "delivered",
        "primary.yyy.state.xx.us",
        "",
        "old@yyy.state.xx.us",
        &via,
    );
    let f = deviation("mailbox-server");
    assert!(f(&p, std::slice::from_ref(&handed), &sim));
    // another host, another mailbox, another path, or a real refusal are not explained
    let other_host = key(
        "delivered",
        "mbx2.yyy.state.xx.us",
        "",
        "old@yyy.state.xx.us",
        &via,
    );
    let other_box = key(
        "delivered",
        "primary.yyy.state.xx.us",
        "",
        "new@yyy.state.xx.us",
        &via,
    );
    let other_path = key(
        "delivered",
        "primary.yyy.state.xx.us",
        "",
        "old@yyy.state.xx.us",
        &[],
    );
    let bounced = key("bounced", "zimbra", "5.0.0", "", &via);
    for real in [other_host, other_box, other_path, bounced] {
        assert!(!f(&p, std::slice::from_ref(&real), &sim), "{real}");
    }
    // a delivery the simulator also calls a delivery needs no deviation
    let p = probe(&case.topo, &Entry::Internet, "user1@yyy.state.xx.us");
    let (_, sim) = simulated(&case, &p);
    assert!(
        sim.iter()
            .all(|alt| alt.iter().all(|k| k.outcome != LMTP_REFUSED)),
        "{sim:?}"
    );
    assert!(!f(&p, &sim[0], &sim));
}

#[test]
fn multi_mta_topologies_agree_with_the_simulator() {
    if !oracle::services_or_skip("multi_mta_topologies_agree_with_the_simulator") {
        return;
    }
    // namespaces (util-linux), the loopback interface (iproute2), LDAP clients (ldap-utils)
    let tools = [
        "/usr/bin/unshare",
        "/usr/bin/mount",
        "/usr/sbin/ip",
        "/usr/bin/ldapadd",
    ];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| !Path::new(t).exists())
        .collect();
    if !missing.is_empty() {
        if std::env::var("ZIMBRA_PROV_SKIP_SERVICES").as_deref() == Ok("1") {
            println!("skipped, not installed: {missing:?} (ZIMBRA_PROV_SKIP_SERVICES=1)");
            return;
        }
        panic!(
            "the multi-MTA test needs {missing:?}: install Debian's util-linux, iproute2 and \
             ldap-utils, or set ZIMBRA_PROV_SKIP_SERVICES=1 to skip"
        );
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let work =
        std::env::temp_dir().join(format!("zimbra-prov-multi-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    oracle::run(std::process::Command::new("chmod").arg("755").arg(&work)).expect("chmod");
    let mut cmd = multi::net::namespace_command("inner_multi_mta_run", &work).expect("test binary");
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("unshare (util-linux) runs");
    let mut out = String::new();
    let mut err = String::new();
    let (o, e) = (child.stdout.take(), child.stderr.take());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = e {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    if let Some(mut o) = o {
        let _ = o.read_to_string(&mut out);
    }
    err.push_str(&reader.join().unwrap_or_default());
    let status = child.wait().expect("wait for the namespace");
    println!("{out}");
    eprintln!("{err}");
    let keep = std::env::var("ZIMBRA_PROV_ORACLE_KEEP").as_deref() == Ok("1")
        || work.join("KEEP").exists();
    if keep {
        println!("multi-MTA differential: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    assert!(
        status.success(),
        "the multi-MTA run failed ({status}):\n{out}\n{err}"
    );
    assert!(
        out.contains("multi-MTA differential: seed"),
        "the inner run did not report:\n{out}\n{err}"
    );
}
