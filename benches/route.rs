//! Single-MTA decisions on a 100,000-account directory (target: ≥ 650,000 decisions/s on one
//! core). Run with `cargo bench --bench route`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zimbra_prov::model::{Account, Directory, MailRecipient};
use zimbra_prov::route::{Arrival, ZimbraMta};
use zimbra_prov::zmprov;

const ACCOUNTS: usize = 100_000;

fn directory() -> Directory {
    let mut dir = Directory::new();
    zmprov::run(
        &mut dir,
        "cs mbx1.example.com\ncs mbx2.example.com\ncd example.com\n\
         md example.com zimbraMailCatchAllAddress @example.com zimbraMailCatchAllForwardingAddress @example.com zimbraMailTransport smtp:exchange.example.com\n\
         cad example.net example.com zimbraMailCatchAllForwardingAddress @example.com\n\
         ca template@example.com pw",
    )
    .expect("setup");
    let template = dir
        .account("template@example.com")
        .cloned()
        .expect("template");
    for i in 0..ACCOUNTS {
        let name = format!("user{i}@example.com");
        let mut a = Account::new(name.parse().expect("address"));
        a.attrs = template.attrs.clone();
        a.attrs.set_one("zimbraMailDeliveryAddress", name.as_str());
        a.attrs.set_one("mail", name.as_str());
        a.attrs.set_one("uid", format!("user{i}"));
        a.attrs
            .set_one("zimbraId", format!("00000000-0000-0000-0000-{i:012}"));
        let host = if i % 2 == 0 { "mbx1" } else { "mbx2" };
        a.attrs.set_one(
            "zimbraMailTransport",
            format!("lmtp:{host}.example.com:7025"),
        );
        if i % 10 == 0 {
            a.attrs
                .set_one("zimbraMailAlias", format!("alias{i}@example.com"));
        }
        if i % 50 == 0 {
            a.attrs
                .set_one("zimbraPrefMailForwardingAddress", "ext@elsewhere.example");
        }
        dir.insert_account(a).expect("insert");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = directory();
    assert!(dir.account_count() > ACCOUNTS);
    let mta = ZimbraMta::from_directory(&dir, "mbx1.example.com");
    // a realistic mix: accounts, aliases, unknown users (catch-all), alias domain, remote
    let addrs: Vec<String> = (0..4096)
        .map(|i| match i % 8 {
            0..=3 => format!("user{}@example.com", (i * 7919) % ACCOUNTS),
            4 => format!("alias{}@example.com", ((i * 31) % (ACCOUNTS / 10)) * 10),
            5 => format!("nobody{i}@example.com"),
            6 => format!("user{}@example.net", (i * 13) % ACCOUNTS),
            _ => format!("someone{i}@elsewhere.example"),
        })
        .collect();
    let a = dir.account("user0@example.com").expect("user0");
    assert!(a.transport().is_ok());
    let mut g = c.benchmark_group("decide_100k_accounts");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("quiet", |b| {
        b.iter(|| {
            for r in &addrs {
                black_box(mta.decide_quiet(black_box(r), Arrival::TRUSTED));
            }
        })
    });
    g.bench_function("with_steps", |b| {
        b.iter(|| {
            for r in &addrs {
                black_box(mta.decide(black_box(r), Arrival::TRUSTED));
            }
        })
    });
    g.finish();
    c.bench_function("index_build_100k_accounts", |b| {
        b.iter(|| black_box(ZimbraMta::from_directory(&dir, "mbx1.example.com")))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
