//! Deterministic generator of a Zimbra-like `slapcat` LDIF: domains with accounts of
//! about 40 attributes each (UUIDs, base64 UTF-8 names, base64 `userPassword`, long
//! folded values, operational attributes), folded at 78 columns like slapcat.
//!
//! Shared by `examples/gen_slapcat.rs`, `benches/ldif.rs` and tests through `#[path]`.

#![allow(dead_code)]

use std::io::{self, Write};

use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Small deterministic PRNG (xorshift64*), so the file is identical on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A UUID-formatted random string.
    pub fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

const GIVEN: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Gina", "Hank", "Ivy", "José", "Zoë",
    "Jürgen", "Ærling", "Łukasz", "Søren", "Chloé", "Ngozi", "Priya", "Wei", "Yuki",
];
const FAMILY: &[&str] = &[
    "Example",
    "Smith",
    "Müller",
    "García",
    "Østergaard",
    "Nakamura",
    "Dubois",
    "Kowalski",
    "O'Brien",
    "Łęcki",
    "Jensen",
    "Rossi",
    "Novák",
    "Haddad",
    "Silva",
    "Kim",
];

/// Appends `name: value` (or `name:: base64`) folded at 78 columns like slapcat.
pub fn put(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    let mut line = Vec::with_capacity(name.len() + value.len() * 2 + 4);
    line.extend_from_slice(name.as_bytes());
    let plain = !value.is_empty()
        && value
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b) || b == b' ')
        && !matches!(value.first(), Some(b' ' | b':' | b'<'))
        && value.last() != Some(&b' ')
        && !name.eq_ignore_ascii_case("userPassword");
    if value.is_empty() {
        line.push(b':');
    } else if plain {
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
    } else {
        line.extend_from_slice(b":: ");
        line.extend_from_slice(B64.encode(value).as_bytes());
    }
    let mut rest = &line[..];
    let first = rest.len().min(78);
    out.extend_from_slice(&rest[..first]);
    rest = &rest[first..];
    while !rest.is_empty() {
        let n = rest.len().min(77);
        out.extend_from_slice(b"\n ");
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
    out.push(b'\n');
}

fn operational(out: &mut Vec<u8>, rng: &mut Rng, structural: &str, n: u64) {
    put(out, "structuralObjectClass", structural.as_bytes());
    put(out, "entryUUID", rng.uuid().as_bytes());
    put(out, "creatorsName", b"cn=config");
    let ts = format!(
        "2024{:02}{:02}{:02}{:02}{:02}Z",
        1 + n % 12,
        1 + n % 28,
        n % 24,
        n % 60,
        (n * 7) % 60
    );
    put(out, "createTimestamp", ts.as_bytes());
    let csn = format!("{}.{:06}Z#000000#000#000000", &ts[..14], n % 1_000_000);
    put(out, "entryCSN", csn.as_bytes());
    put(out, "modifiersName", b"uid=zimbra,cn=admins,cn=zimbra");
    put(out, "modifyTimestamp", ts.as_bytes());
}

/// Writes the directory: the suffix-level tree, `domains` domains and `accounts`
/// accounts spread over them. Returns the number of records written.
pub fn generate(accounts: usize, domains: usize, w: &mut impl Write) -> io::Result<u64> {
    let domains = domains.max(1);
    let mut rng = Rng::new(2849);
    let mut out = Vec::with_capacity(1 << 16);
    let mut records = 0u64;
    let names: Vec<String> = (0..domains).map(|d| format!("domain{d}")).collect();
    for (d, name) in names.iter().enumerate() {
        put(&mut out, "dn", format!("dc={name},dc=com").as_bytes());
        for oc in ["dcObject", "organization", "zimbraDomain", "amavisAccount"] {
            put(&mut out, "objectClass", oc.as_bytes());
        }
        put(&mut out, "dc", name.as_bytes());
        put(&mut out, "o", format!("{name}.com domain").as_bytes());
        put(
            &mut out,
            "zimbraDomainName",
            format!("{name}.com").as_bytes(),
        );
        put(&mut out, "zimbraId", rng.uuid().as_bytes());
        put(&mut out, "zimbraDomainType", b"local");
        put(&mut out, "zimbraDomainStatus", b"active");
        put(&mut out, "zimbraMailStatus", b"enabled");
        operational(&mut out, &mut rng, "organization", d as u64);
        out.push(b'\n');
        put(
            &mut out,
            "dn",
            format!("ou=people,dc={name},dc=com").as_bytes(),
        );
        put(&mut out, "objectClass", b"organizationalUnit");
        put(&mut out, "ou", b"people");
        operational(&mut out, &mut rng, "organizationalUnit", d as u64);
        out.push(b'\n');
        records += 2;
        w.write_all(&out)?;
        out.clear();
    }
    for i in 0..accounts {
        let dom = names
            .get(i % domains)
            .map(String::as_str)
            .unwrap_or("domain0");
        let g = GIVEN[rng.below(GIVEN.len() as u64) as usize];
        let f = FAMILY[rng.below(FAMILY.len() as u64) as usize];
        let uid = format!("user{i}");
        let mail = format!("{uid}@{dom}.com");
        put(
            &mut out,
            "dn",
            format!("uid={uid},ou=people,dc={dom},dc=com").as_bytes(),
        );
        for oc in ["inetOrgPerson", "zimbraAccount", "amavisAccount"] {
            put(&mut out, "objectClass", oc.as_bytes());
        }
        put(&mut out, "uid", uid.as_bytes());
        let cn = format!("{g} {f}");
        put(&mut out, "cn", cn.as_bytes());
        put(&mut out, "sn", f.as_bytes());
        put(&mut out, "givenName", g.as_bytes());
        put(&mut out, "displayName", cn.as_bytes());
        put(&mut out, "mail", mail.as_bytes());
        put(
            &mut out,
            "mail",
            format!("{}.{}@{dom}.com", g.to_lowercase(), i).as_bytes(),
        );
        put(&mut out, "zimbraMailDeliveryAddress", mail.as_bytes());
        put(
            &mut out,
            "zimbraMailAlias",
            format!("{}.{}@{dom}.com", g.to_lowercase(), i).as_bytes(),
        );
        put(&mut out, "zimbraId", rng.uuid().as_bytes());
        put(
            &mut out,
            "zimbraMailHost",
            format!("mbox{}.example.net", i % 4).as_bytes(),
        );
        put(
            &mut out,
            "zimbraMailTransport",
            format!("lmtp:mbox{}.example.net:7025", i % 4).as_bytes(),
        );
        put(&mut out, "zimbraAccountStatus", b"active");
        put(&mut out, "zimbraMailStatus", b"enabled");
        put(
            &mut out,
            "zimbraCOSId",
            b"e00428a1-0c00-11d9-836a-000d93afea2a",
        );
        put(
            &mut out,
            "zimbraMailQuota",
            format!("{}", 1u64 << (30 + rng.below(3))).as_bytes(),
        );
        let salt: Vec<u8> = (0..8).map(|_| rng.next() as u8).collect();
        let mut hash: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
        hash.extend_from_slice(&salt);
        let pw = format!("{{SSHA512}}{}", B64.encode(&hash));
        put(&mut out, "userPassword", pw.as_bytes());
        put(&mut out, "zimbraPasswordModifiedTime", b"20240101000000Z");
        put(&mut out, "zimbraCreateTimestamp", b"20240101000000Z");
        put(
            &mut out,
            "zimbraLastLogonTimestamp",
            format!("2024{:02}01000000Z", 1 + i % 12).as_bytes(),
        );
        put(&mut out, "zimbraPrefFromDisplay", cn.as_bytes());
        put(&mut out, "zimbraPrefMailForwardingAddress", b"");
        put(&mut out, "zimbraPrefLocale", b"en_US");
        put(&mut out, "zimbraPrefTimeZoneId", b"Europe/Berlin");
        put(&mut out, "zimbraPrefIdentityName", b"DEFAULT");
        put(
            &mut out,
            "zimbraPrefHtmlEditorDefaultFontFamily",
            b"arial, helvetica, sans-serif",
        );
        let sig = format!(
            "<div>{cn}</div><div>{g} {f} | Department {} | {dom}.com | Phone +1 555 {:04} | \
             This message may contain confidential information; if you received it in error \
             please notify the sender and delete it.</div>",
            i % 97,
            i % 10000
        );
        put(&mut out, "zimbraPrefMailSignatureHTML", sig.as_bytes());
        let plain_sig = sig.replace("<div>", "").replace("</div>", "\n");
        put(&mut out, "zimbraPrefMailSignature", plain_sig.as_bytes());
        put(&mut out, "zimbraSignatureId", rng.uuid().as_bytes());
        put(&mut out, "zimbraSignatureName", cn.as_bytes());
        put(
            &mut out,
            "zimbraPrefDefaultSignatureId",
            rng.uuid().as_bytes(),
        );
        put(&mut out, "zimbraPrefOutOfOfficeReply", format!("I am away until Monday. For urgent matters contact helpdesk@{dom}.com or call +1 555 0100; thank you, {g}.").as_bytes());
        put(
            &mut out,
            "zimbraAuthTokenValidityValue",
            format!("{}", rng.below(100)).as_bytes(),
        );
        put(
            &mut out,
            "zimbraZimletAvailableZimlets",
            b"!com_zimbra_attachmail",
        );
        put(
            &mut out,
            "zimbraZimletAvailableZimlets",
            b"+com_zimbra_date",
        );
        put(
            &mut out,
            "telephoneNumber",
            format!("+1 555 {:04}", i % 10000).as_bytes(),
        );
        put(
            &mut out,
            "description",
            format!(" {cn} (imported) ").as_bytes(),
        );
        operational(&mut out, &mut rng, "inetOrgPerson", i as u64);
        out.push(b'\n');
        records += 1;
        w.write_all(&out)?;
        out.clear();
    }
    Ok(records)
}
