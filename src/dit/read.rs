//! LDIF → entries → typed directory, on all cores.
//!
//! [`read_directory`] splits the input at record boundaries into blocks, parses and classifies
//! the blocks on worker threads (each entry's attributes go straight from the LDIF reader's
//! borrowed record into one compact buffer), and adds the results to the directory in file
//! order on the calling thread. The result does not depend on the number of threads: the same
//! directory, the same entry order, the same first error.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use super::classify::{address_of_dn, classify, is_account_by_classes, EntryKind};
use super::DitError;
use crate::dn::Dn;
use crate::ldif::{LdifError, LdifErrorKind, Reader};
use crate::model::{
    is_routing_attr, names, Account, Address, Alias, AttrBag, BagBuilder, Cos, Directory,
    DistributionList, Domain, DomainName, DynamicGroup, Object, RawEntry, Server,
};

/// Streams the content records of an LDIF directory dump (a `slapcat` output) as
/// [`RawEntry`]s, values and attribute order as read. A change record is an error.
///
/// ```
/// use zimbra_prov::dit::EntryReader;
/// let text = b"dn: cn=zimbra\nobjectClass: organizationalRole\ncn: zimbra\n";
/// let entries: Vec<_> = EntryReader::new(&text[..]).collect::<Result<_, _>>()?;
/// assert_eq!(entries[0].dn, "cn=zimbra");
/// assert_eq!(entries[0].attrs.first("cn"), Some("zimbra"));
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
#[derive(Debug)]
pub struct EntryReader<R> {
    inner: Reader<R>,
    bags: BagBuilder,
}

impl<R: BufRead> EntryReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        EntryReader {
            inner: Reader::new(input),
            bags: BagBuilder::default(),
        }
    }

    /// The next entry and the line it starts on, `Ok(None)` at the end.
    pub fn next_entry(&mut self) -> Result<Option<(RawEntry, u64)>, DitError> {
        let Some(r) = self.inner.next_ref()? else {
            return Ok(None);
        };
        if r.is_change() {
            return Err(DitError::ChangeRecord {
                line: r.line(),
                dn: r.dn().to_string(),
            });
        }
        let attrs = self.bags.build(r.attributes());
        Ok(Some((
            RawEntry {
                dn: r.dn().to_string(),
                attrs,
            },
            r.line(),
        )))
    }
}

impl<R: BufRead> Iterator for EntryReader<R> {
    type Item = Result<RawEntry, DitError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose().map(|r| r.map(|(e, _)| e))
    }
}

/// How [`read_directory_with`] reads.
///
/// ```
/// use zimbra_prov::dit::{read_directory_with, ReadOptions};
/// let text = b"dn: cn=zimbra\nobjectClass: organizationalRole\ncn: zimbra\n";
/// let one = read_directory_with(&text[..], &ReadOptions::with_threads(1))?;
/// let all = read_directory_with(&text[..], &ReadOptions::default())?;
/// assert_eq!(one, all);
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Threads that parse and classify (0: one per available core). With 1 everything runs on
    /// the calling thread.
    pub threads: usize,
    /// Bytes per block handed to a thread (a block always ends at a record boundary and may be
    /// larger when a record is).
    pub block_bytes: usize,
    /// Keep of each account and calendar resource only the attributes routing reads
    /// ([`names::ROUTING`]); the others are never stored. Other entries are kept whole. Every
    /// routing answer is the same as with the whole directory
    /// ([`Directory::keep_routing_attrs`] gives the same directory), in a fraction of the
    /// memory; such a directory is for routing questions, not for writing back.
    pub routing_only: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            threads: 0,
            // 2 MiB: at 100,000 accounts on 2 cores, about 15 MB less peak memory than 4 MiB
            // (blocks in flight between the reading and the parsing threads) and no slower
            block_bytes: 2 << 20,
            routing_only: false,
        }
    }
}

impl ReadOptions {
    /// The defaults with `threads` threads (0: one per available core).
    pub fn with_threads(threads: usize) -> Self {
        ReadOptions {
            threads,
            ..ReadOptions::default()
        }
    }

    /// The defaults, keeping only what routing reads ([`ReadOptions::routing_only`]).
    ///
    /// ```
    /// use zimbra_prov::dit::{read_directory_with, ReadOptions};
    /// let ldif = b"dn: uid=ann,ou=people,dc=example,dc=org\nobjectClass: zimbraAccount\n\
    /// zimbraMailDeliveryAddress: ann@example.org\nzimbraPrefLocale: en_US\n";
    /// let dir = read_directory_with(&ldif[..], &ReadOptions::routing())?;
    /// let ann = dir.account("ann@example.org").unwrap();
    /// assert_eq!(ann.attrs.first("zimbraPrefLocale"), None);
    /// let mut whole = read_directory_with(&ldif[..], &ReadOptions::default())?;
    /// whole.keep_routing_attrs();
    /// assert_eq!(whole, dir);
    /// # Ok::<(), zimbra_prov::dit::DitError>(())
    /// ```
    pub fn routing() -> Self {
        ReadOptions {
            routing_only: true,
            ..ReadOptions::default()
        }
    }
}

/// Reads a whole LDIF directory dump into a typed [`Directory`] (see the [module
/// documentation](super) for what becomes what), on every available core
/// ([`read_directory_with`] chooses). The directory starts empty: nothing is assumed that the
/// dump does not contain.
///
/// ```
/// use zimbra_prov::dit::read_directory;
/// let ldif = b"dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\n\
/// objectClass: zimbraDomain\ndc: example\nzimbraDomainName: example.org\n\n\
/// dn: uid=alice,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\n\
/// objectClass: zimbraAccount\nuid: alice\nzimbraMailDeliveryAddress: alice@example.org\n";
/// let dir = read_directory(&ldif[..])?;
/// assert!(dir.domain("example.org").is_some());
/// assert_eq!(dir.account("alice@example.org").unwrap().attrs.first("uid"), Some("alice"));
/// # Ok::<(), zimbra_prov::dit::DitError>(())
/// ```
pub fn read_directory<R: BufRead>(input: R) -> Result<Directory, DitError> {
    read_directory_with(input, &ReadOptions::default())
}

/// [`read_directory`] with explicit options (threads, block size). The result is the same
/// whatever the options: same directory, same entry order, same first error.
pub fn read_directory_with<R: Read>(
    mut input: R,
    opts: &ReadOptions,
) -> Result<Directory, DitError> {
    let threads = crate::par::threads(opts.threads, usize::MAX);
    let block_bytes = opts.block_bytes.max(1 << 10);
    let mut b = Builder::default();
    let mut splitter = Splitter::new(block_bytes);
    let first = splitter.next_block(&mut input)?;
    let Some(first) = first else {
        return Ok(b.dir);
    };
    if threads <= 1 || first.last {
        // small input or one thread: parse and add block by block on this thread
        let mut block = Some(first);
        let mut prep = Preparer::new(opts);
        while let Some(bl) = block {
            b.add_block(prep.block(&bl))?;
            if bl.last {
                break;
            }
            block = splitter
                .next_block(&mut input)
                .map_err(|e| b.read_error(e))?;
        }
        return Ok(b.dir);
    }
    parallel(first, &mut splitter, &mut input, threads, opts, &mut b)?;
    Ok(b.dir)
}

fn parallel<R: Read>(
    first: Block,
    splitter: &mut Splitter,
    input: &mut R,
    threads: usize,
    opts: &ReadOptions,
    b: &mut Builder,
) -> Result<(), DitError> {
    let (job_tx, job_rx) = mpsc::sync_channel::<Block>(threads);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(u64, BlockResult)>();
    // set by the merger at the first error: the reader stops, the workers skip what is queued
    let stop = AtomicBool::new(false);
    // (error, whether it is a read error, which takes the line after the blocks added)
    let res = std::thread::scope(|s| -> Result<(), (DitError, bool)> {
        for _ in 0..threads {
            let res_tx = res_tx.clone();
            let (job_rx, stop) = (&job_rx, &stop);
            s.spawn(move || {
                let mut prep = Preparer::new(opts);
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(block) = job else { return };
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let _ = res_tx.send((block.seq, prep.block(&block)));
                }
            });
        }
        drop(res_tx);
        // the merger: results in block order, on its own thread
        let stop_ref = &stop;
        let b = &mut *b;
        let merger = s.spawn(move || -> Result<u64, DitError> {
            let mut pending: BTreeMap<u64, BlockResult> = BTreeMap::new();
            let mut want = 0u64;
            for (seq, r) in res_rx.iter() {
                pending.insert(seq, r);
                while let Some(r) = pending.remove(&want) {
                    want += 1;
                    if let Err(e) = b.add_block(r) {
                        stop_ref.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok(want)
        });
        // this thread reads, in order, until the end, a read error or a stop
        let mut sent = 0u64;
        let mut read_error = None;
        let mut next = Some(first);
        while let Some(block) = next {
            let last = block.last;
            if job_tx.send(block).is_err() {
                break;
            }
            sent += 1;
            if last || stop.load(Ordering::Relaxed) {
                break;
            }
            match splitter.next_block(input) {
                Ok(n) => next = n,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        drop(job_tx);
        let merged = merger.join().unwrap_or(Ok(u64::MAX));
        match (merged, read_error) {
            (Err(e), _) => Err((e, false)),
            // a read error comes after every block read before it
            (Ok(_), Some(e)) => Err((e, true)),
            (Ok(n), None) if n != sent => Err((
                DitError::Ldif(LdifError {
                    line: 0,
                    record_line: None,
                    dn: None,
                    kind: LdifErrorKind::Io(std::io::Error::other("a parsing thread stopped")),
                }),
                false,
            )),
            (Ok(_), None) => Ok(()),
        }
    });
    match res {
        Ok(()) => Ok(()),
        Err((e, true)) => Err(b.read_error(e)),
        Err((e, false)) => Err(e),
    }
}

/// A run of whole records.
struct Block {
    seq: u64,
    bytes: Vec<u8>,
    last: bool,
}

/// Cuts the input into blocks of about `size` bytes that end where a record ends: before a
/// `dn:` line that follows an empty line.
struct Splitter {
    size: usize,
    carry: Vec<u8>,
    seq: u64,
    done: bool,
}

impl Splitter {
    fn new(size: usize) -> Self {
        Splitter {
            size,
            carry: Vec::new(),
            seq: 0,
            done: false,
        }
    }

    /// Where the last record that follows an empty line begins, if any.
    fn cut(buf: &[u8]) -> Option<usize> {
        let finder = memchr::memmem::FinderRev::new(b"\ndn:");
        let mut end = buf.len();
        loop {
            let p = finder.rfind(buf.get(..end)?)?;
            let blank = matches!(p.checked_sub(1).and_then(|i| buf.get(i)), Some(b'\n'))
                || (p >= 2 && buf.get(p - 2..p) == Some(b"\n\r"));
            if blank {
                return Some(p + 1);
            }
            end = p;
        }
    }

    fn next_block<R: Read>(&mut self, input: &mut R) -> Result<Option<Block>, DitError> {
        if self.done {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            let eof = read_more(input, &mut buf, self.size)?;
            if eof {
                self.done = true;
                if buf.is_empty() && self.seq > 0 {
                    return Ok(None);
                }
                return Ok(Some(self.emit(buf, true)));
            }
            if let Some(at) = Splitter::cut(&buf) {
                self.carry = buf.split_off(at);
                return Ok(Some(self.emit(buf, false)));
            }
            // a record larger than a block: read on
        }
    }

    fn emit(&mut self, bytes: Vec<u8>, last: bool) -> Block {
        let b = Block {
            seq: self.seq,
            last,
            bytes,
        };
        self.seq += 1;
        b
    }
}

/// Appends up to `n` bytes of the input to `buf`; true at the end of the input. (A read error
/// has no line: the lines of what was read are only counted once it is parsed.)
fn read_more<R: Read>(input: &mut R, buf: &mut Vec<u8>, n: usize) -> Result<bool, DitError> {
    let before = buf.len();
    buf.reserve(n);
    loop {
        match input.by_ref().take(n as u64).read_to_end(buf) {
            Ok(_) => return Ok(buf.len() - before < n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(DitError::Ldif(LdifError {
                    line: 0,
                    record_line: None,
                    dn: None,
                    kind: LdifErrorKind::Io(e),
                }))
            }
        }
    }
}

/// What a thread makes of one entry: everything but the decisions that depend on the entries
/// before it (duplicates, names already taken), which [`Builder`] makes in file order.
struct Prepared {
    line: u64,
    /// Two independent hashes of the normalized DN.
    dn_hash: (u64, u64),
    dn: String,
    /// Whether `dn` is, to the letter, the DN Zimbra gives the object named `name`.
    default_dn: bool,
    kind: EntryKind,
    name: Name,
    attrs: AttrBag,
}

enum Name {
    None,
    Plain(String),
    Domain(DomainName),
    Address(Address),
}

/// The entries of a block, and the error that stopped it. Lines count from the block's start:
/// the merger, which knows the lines of the blocks before, makes them the file's.
struct BlockResult {
    entries: Vec<Prepared>,
    error: Option<BlockError>,
    /// Physical lines in the block.
    lines: u64,
}

enum BlockError {
    Dit(DitError),
    /// The block's first record is a change record: what the sequential reader says depends on
    /// whether content records came before it in the file, which only the merger knows.
    LeadingChange {
        line: u64,
        dn: String,
    },
}

struct Preparer {
    bags: BagBuilder,
    /// [`ReadOptions::routing_only`].
    routing_only: bool,
}

impl Preparer {
    fn new(opts: &ReadOptions) -> Self {
        Preparer {
            bags: BagBuilder::default(),
            routing_only: opts.routing_only,
        }
    }

    /// The bag of a record's attributes: all of them, or for an account read for routing,
    /// those routing reads.
    fn bag<'a>(&mut self, lines: impl Iterator<Item = (&'a str, &'a [u8])> + Clone) -> AttrBag {
        if !self.routing_only {
            return self.bags.build(lines);
        }
        let classes = lines
            .clone()
            .filter(|(d, _)| d.eq_ignore_ascii_case(names::OBJECT_CLASS))
            .map(|(_, v)| v);
        if is_account_by_classes(classes) {
            self.bags.build_where(lines, is_routing_attr)
        } else {
            self.bags.build(lines)
        }
    }

    fn block(&mut self, block: &Block) -> BlockResult {
        let mut reader = Reader::new(block.bytes.as_slice());
        let mut entries = Vec::new();
        let mut first = true;
        let error = loop {
            let r = match reader.next_ref() {
                Ok(Some(r)) => r,
                Ok(None) => break None,
                Err(e) => break Some(BlockError::Dit(DitError::Ldif(e))),
            };
            let line = r.line();
            if r.is_change() {
                let dn = r.dn().to_string();
                break Some(if first {
                    BlockError::LeadingChange { line, dn }
                } else {
                    BlockError::Dit(DitError::ChangeRecord { line, dn })
                });
            }
            first = false;
            let attrs = self.bag(r.attributes());
            match prepare(r.dn().to_string(), attrs, line) {
                Ok(p) => entries.push(p),
                Err(e) => break Some(BlockError::Dit(e)),
            }
        };
        BlockResult {
            entries,
            error,
            lines: reader.line_number(),
        }
    }
}

fn dn_hash(normalized: &str) -> (u64, u64) {
    #[derive(Default)]
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn write(&mut self, bytes: &[u8]) {
            let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            self.0 = h;
        }
        fn finish(&self) -> u64 {
            self.0
        }
    }
    let mut a = std::collections::hash_map::DefaultHasher::new();
    a.write(normalized.as_bytes());
    let mut b = Fnv::default();
    b.write(normalized.as_bytes());
    (a.finish(), b.finish())
}

fn prepare(dn_text: String, attrs: AttrBag, line: u64) -> Result<Prepared, DitError> {
    let dn = Dn::parse(&dn_text).map_err(|source| DitError::Dn {
        line,
        dn: dn_text.clone(),
        source,
    })?;
    let kind = classify(&dn, &attrs);
    let rdn_text = || {
        dn.rdn()
            .and_then(|r| r.avas().first())
            .and_then(|a| a.text())
            .map(str::to_string)
    };
    let name = match kind {
        EntryKind::GlobalConfig => Name::None,
        EntryKind::Cos | EntryKind::Server => attrs
            .first(names::CN)
            .map(str::to_string)
            .or_else(rdn_text)
            .map_or(Name::None, Name::Plain),
        EntryKind::Domain => attrs
            .first(names::DOMAIN_NAME)
            .and_then(|s| DomainName::parse(s).ok())
            .map_or(Name::None, Name::Domain),
        EntryKind::Account
        | EntryKind::CalendarResource
        | EntryKind::Alias
        | EntryKind::DistributionList
        | EntryKind::DynamicGroup => {
            let rdn_type = if kind == EntryKind::DynamicGroup {
                "cn"
            } else {
                "uid"
            };
            let from_dn = || address_of_dn(&dn, rdn_type).and_then(|s| Address::parse(&s).ok());
            let name = match kind {
                EntryKind::Account | EntryKind::CalendarResource => {
                    first_address(&attrs, names::MAIL_DELIVERY_ADDRESS)
                        .or_else(from_dn)
                        .or_else(|| first_address(&attrs, names::MAIL))
                }
                _ => from_dn().or_else(|| first_address(&attrs, names::MAIL)),
            };
            name.map_or(Name::None, Name::Address)
        }
        _ => Name::None,
    };
    let default = match &name {
        Name::None => default_dn_of(kind, ""),
        Name::Plain(n) => default_dn_of(kind, n),
        Name::Domain(d) => default_dn_of(kind, d.as_str()),
        Name::Address(a) => default_dn_of(kind, &a.to_string()),
    };
    Ok(Prepared {
        line,
        dn_hash: dn_hash(dn.normalized()),
        default_dn: default.is_some_and(|d| d == dn_text),
        dn: dn_text,
        kind,
        name,
        attrs,
    })
}

/// The text of [`default_dn`](super::default_dn) for `kind` and `name`, built directly (no
/// [`Dn`] on the way): the same escaping, the same RDN order.
fn default_dn_of(kind: EntryKind, name: &str) -> Option<String> {
    fn rdn(out: &mut String, ty: &str, v: &str) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(ty);
        out.push('=');
        crate::dn::escape_value(v, out);
    }
    fn domain(out: &mut String, d: &str) -> Option<()> {
        if d.is_empty() {
            return None;
        }
        for label in d.split('.') {
            if label.is_empty() {
                return None;
            }
            rdn(out, "dc", &label.to_ascii_lowercase());
        }
        Some(())
    }
    let mut out = String::with_capacity(name.len() + 32);
    match kind {
        EntryKind::GlobalConfig => out.push_str("cn=config,cn=zimbra"),
        EntryKind::Cos | EntryKind::Server if !name.is_empty() => {
            rdn(&mut out, "cn", name);
            out.push_str(if kind == EntryKind::Cos {
                ",cn=cos,cn=zimbra"
            } else {
                ",cn=servers,cn=zimbra"
            });
        }
        EntryKind::Domain => domain(&mut out, name)?,
        EntryKind::Account
        | EntryKind::CalendarResource
        | EntryKind::Alias
        | EntryKind::DistributionList
        | EntryKind::DynamicGroup => {
            let (l, d) = name.rsplit_once('@')?;
            if l.is_empty() {
                return None;
            }
            if kind == EntryKind::DynamicGroup {
                rdn(&mut out, "cn", l);
                out.push_str(",cn=groups");
            } else {
                rdn(&mut out, "uid", l);
                out.push_str(",ou=people");
            }
            domain(&mut out, d)?;
        }
        _ => return None,
    }
    Some(out)
}

/// Builds a typed [`Directory`] from entries (for example [`EntryReader`]'s, or
/// [`entries`](super::entries) of another directory).
pub fn directory_from_entries<I>(entries: I) -> Result<Directory, DitError>
where
    I: IntoIterator<Item = Result<RawEntry, DitError>>,
{
    let mut b = Builder::default();
    for e in entries {
        let e = e?;
        b.add(prepare(e.dn, e.attrs, 0)?)?;
    }
    Ok(b.dir)
}

type IdentityMap = HashSet<(u64, u64), BuildHasherDefault<FirstWord>>;

/// The set's keys are hashes already.
#[derive(Default)]
struct FirstWord(u64);

impl Hasher for FirstWord {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        if self.0 == 0 {
            self.0 = n | 1;
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Adds prepared entries to the directory, in file order.
#[derive(Default)]
struct Builder {
    dir: Directory,
    /// DNs seen, by two independent 64-bit hashes of the normalized DN: a false duplicate needs
    /// both to collide (for 10^7 entries, odds below 10^-24), and nothing else is kept per DN.
    seen: IdentityMap,
    config_seen: bool,
    /// Physical lines of the blocks added so far.
    lines: u64,
}

/// An error of a block, with lines counted from the file's start instead of the block's.
fn shift_lines(e: DitError, off: u64) -> DitError {
    match e {
        DitError::Ldif(mut e) => {
            if e.line > 0 {
                e.line += off;
            }
            e.record_line = e.record_line.map(|l| l + off);
            DitError::Ldif(e)
        }
        DitError::ChangeRecord { line, dn } => DitError::ChangeRecord {
            line: line + off,
            dn,
        },
        DitError::Dn { line, dn, source } => DitError::Dn {
            line: line + off,
            dn,
            source,
        },
        other => other,
    }
}

fn first_address(attrs: &AttrBag, attr: &str) -> Option<Address> {
    attrs.first(attr).and_then(|s| Address::parse(s).ok())
}

impl Builder {
    fn add_block(&mut self, r: BlockResult) -> Result<(), DitError> {
        let off = self.lines;
        self.lines += r.lines;
        for mut p in r.entries {
            p.line += off;
            self.add(p)?;
        }
        match r.error {
            None => Ok(()),
            Some(BlockError::Dit(e)) => Err(shift_lines(e, off)),
            // the sequential reader refuses a change record after content records as mixing
            // record kinds, and returns it (then refused as a change record) otherwise
            Some(BlockError::LeadingChange { line, dn }) if !self.seen.is_empty() => {
                Err(DitError::Ldif(LdifError {
                    line: line + off,
                    record_line: Some(line + off),
                    dn: Some(dn),
                    kind: LdifErrorKind::MixedRecords,
                }))
            }
            Some(BlockError::LeadingChange { line, dn }) => Err(DitError::ChangeRecord {
                line: line + off,
                dn,
            }),
        }
    }

    /// A read error, on the line after the blocks added.
    fn read_error(&self, e: DitError) -> DitError {
        match e {
            DitError::Ldif(mut e) if e.line == 0 => {
                e.line = self.lines + 1;
                DitError::Ldif(e)
            }
            other => other,
        }
    }

    fn add(&mut self, p: Prepared) -> Result<(), DitError> {
        if !self.seen.insert(p.dn_hash) {
            return Err(DitError::DuplicateDn {
                line: p.line,
                dn: p.dn,
            });
        }
        // every entry takes the next place in creation order: a slapcat file lists entries in
        // slapd's entry-ID order, an LDAP search returns them in that order
        if let Some(raw) = self.typed(p) {
            self.dir.push_raw(raw);
        }
        Ok(())
    }

    /// Stores the entry as a typed object; gives it back when it cannot be typed.
    fn typed(&mut self, p: Prepared) -> Option<RawEntry> {
        let Prepared {
            dn,
            default_dn,
            kind,
            name,
            attrs,
            ..
        } = p;
        // the object keeps the DN only when it is not Zimbra's default for its name
        let own = (!default_dn).then(|| dn.clone());
        fn put<T: Object>(dir: &mut Directory, obj: T, dn: String) -> Option<RawEntry> {
            dir.try_insert(obj).err().map(|mut o| RawEntry {
                dn,
                attrs: std::mem::take(o.attrs_mut()),
            })
        }
        let dir = &mut self.dir;
        match (kind, name) {
            (EntryKind::GlobalConfig, _) if !self.config_seen => {
                self.config_seen = true;
                dir.place_config();
                dir.config.dn = own;
                dir.config.attrs = attrs;
                None
            }
            (EntryKind::Cos, Name::Plain(name)) => {
                let mut o = Cos::new(&name);
                o.dn = own;
                o.attrs = attrs;
                put(dir, o, dn)
            }
            (EntryKind::Server, Name::Plain(name)) => {
                let mut o = Server::new(&name);
                o.dn = own;
                o.attrs = attrs;
                put(dir, o, dn)
            }
            (EntryKind::Domain, Name::Domain(name)) => {
                let mut o = Domain::new(name);
                o.dn = own;
                o.attrs = attrs;
                put(dir, o, dn)
            }
            (EntryKind::Alias, Name::Address(name)) => put(
                dir,
                Alias {
                    name,
                    dn: own,
                    attrs,
                },
                dn,
            ),
            (EntryKind::DistributionList, Name::Address(name)) => put(
                dir,
                DistributionList {
                    name,
                    dn: own,
                    attrs,
                },
                dn,
            ),
            (EntryKind::DynamicGroup, Name::Address(name)) => put(
                dir,
                DynamicGroup {
                    name,
                    dn: own,
                    attrs,
                },
                dn,
            ),
            (EntryKind::Account | EntryKind::CalendarResource, Name::Address(name)) => {
                let mut a = Account::new(name);
                a.dn = own;
                a.attrs = attrs;
                put(dir, a, dn)
            }
            _ => Some(RawEntry { dn, attrs }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryRef;

    #[test]
    fn change_records_are_refused_with_their_line() {
        let text = b"dn: cn=a\ncn: a\n\ndn: cn=b\nchangetype: delete\n";
        let err = read_directory(&text[..]).unwrap_err();
        assert!(
            matches!(err, DitError::Ldif(_) | DitError::ChangeRecord { .. }),
            "{err}"
        );
    }

    #[test]
    fn duplicate_dns_are_refused() {
        let text = b"dn: cn=a\ncn: a\nobjectClass: organizationalRole\n\ndn: CN=A\ncn: a\nobjectClass: organizationalRole\n";
        let err = read_directory(&text[..]).unwrap_err();
        assert!(
            matches!(err, DitError::DuplicateDn { line: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn second_domain_with_the_same_name_stays_raw() {
        let text = b"dn: dc=a,dc=b\nobjectClass: zimbraDomain\nzimbraDomainName: a.b\n\n\
dn: dc=x,dc=b\nobjectClass: zimbraDomain\nzimbraDomainName: A.b\n";
        let dir = read_directory(&text[..]).unwrap();
        assert!(dir.domain("a.b").is_some_and(|d| d.dn.is_none()));
        assert_eq!(dir.other_entries.len(), 1);
        assert_eq!(dir.other_entries[0].dn, "dc=x,dc=b");
    }

    #[test]
    fn admin_account_without_address_stays_raw_with_address_is_typed() {
        let text = b"dn: uid=zimbra,cn=admins,cn=zimbra\nobjectClass: zimbraAccount\nuid: zimbra\n\n\
dn: uid=admin,cn=admins,cn=zimbra\nobjectClass: zimbraAccount\nuid: admin\nzimbraMailDeliveryAddress: admin@x.org\n";
        let dir = read_directory(&text[..]).unwrap();
        assert_eq!(dir.other_entries.len(), 1);
        let a = dir.account("admin@x.org").unwrap();
        assert_eq!(a.dn.as_deref(), Some("uid=admin,cn=admins,cn=zimbra"));
    }

    fn opts(threads: usize, block_bytes: usize) -> ReadOptions {
        ReadOptions {
            threads,
            block_bytes,
            routing_only: false,
        }
    }

    /// Many small blocks and several threads give exactly what one thread gives, errors
    /// included (with their lines, past block boundaries).
    #[test]
    fn blocks_and_threads_do_not_change_the_result() {
        let mut text = String::from("version: 1\n\n");
        for d in 0..3 {
            text.push_str(&format!(
                "dn: dc=d{d},dc=org\nobjectClass: dcObject\nobjectClass: zimbraDomain\ndc: d{d}\nzimbraDomainName: d{d}.org\n\n"
            ));
            for i in 0..120 {
                // a comment before some records (no block boundary there), CRLF after some
                let comment = if i % 7 == 3 { "# a comment\n" } else { "" };
                let end = if i % 5 == 0 { "\r\n" } else { "\n" };
                text.push_str(&format!(
                    "{comment}dn: uid=u{i},ou=people,dc=d{d},dc=org\nobjectClass: zimbraAccount\nuid: u{i}\n\
                     description:: IGxlYWRpbmc=\nzimbraMailDeliveryAddress: u{i}@d{d}.org\ncn: a very long\n  folded value {i}\n{end}"
                ));
            }
        }
        // creation order is the file's order (u0, u1, u2, ...), not name order (u0, u1, u10, ...)
        let file_order: Vec<String> = (0..3)
            .flat_map(|d| {
                std::iter::once(format!("d{d}.org"))
                    .chain((0..120).map(move |i| format!("u{i}@d{d}.org")))
            })
            .collect();
        let in_order = |dir: &Directory| -> Vec<String> {
            dir.entries_in_order()
                .into_iter()
                .filter_map(|e| match e {
                    EntryRef::Domain(x) => Some(x.name.to_string()),
                    EntryRef::Account(x) => Some(x.name.to_string()),
                    _ => None,
                })
                .collect()
        };
        let one = read_directory_with(text.as_bytes(), &opts(1, 1 << 20)).unwrap();
        assert_eq!(in_order(&one), file_order);
        for (t, b) in [(1, 1024), (2, 1024), (3, 1500), (4, 4096)] {
            let many = read_directory_with(text.as_bytes(), &opts(t, b)).unwrap();
            assert_eq!(in_order(&many), file_order, "threads {t}, blocks {b}");
            assert_eq!(many, one, "threads {t}, blocks {b}");
        }
        assert_eq!(one.account_count(), 360);
        // errors deep in the file: the same error, the same line, whatever the threads
        let bad_cases = [
            text.replace("uid: u50\n", "uid: u50\nbad line\n"),
            text.replace(
                "dn: uid=u100,ou=people,dc=d1,dc=org\n",
                "dn: uid=u99,ou=people,dc=d1,dc=org\n",
            ),
            text.replace(
                "dn: uid=u100,ou=people,dc=d2,dc=org\nobjectClass: zimbraAccount\n",
                "dn: uid=u100,ou=people,dc=d2,dc=org\nchangetype: add\nobjectClass: zimbraAccount\n",
            ),
            text.replace("dn: uid=u7,ou=people,dc=d2,dc=org", "dn: uid=u7,,dc=org"),
        ];
        for bad in &bad_cases {
            let want = read_directory_with(bad.as_bytes(), &opts(1, 1 << 20))
                .unwrap_err()
                .to_string();
            // every alignment of block boundaries against records (a record is ~200 bytes)
            for (t, b) in (1024..1250).step_by(17).map(|b| (2, b)).chain([(3, 2000)]) {
                let got = read_directory_with(bad.as_bytes(), &opts(t, b))
                    .unwrap_err()
                    .to_string();
                assert_eq!(got, want, "threads {t}, blocks {b}");
            }
        }
    }

    /// The fast default-DN text is the `dit::default_dn` text, escaping included.
    #[test]
    fn default_dn_text_matches_the_dn_builders() {
        let locals = [
            "alice",
            "A,b",
            " lead",
            "trail ",
            "#x",
            "q\"uote",
            "semi;colon",
            "plus+",
            "back\\slash",
            "ctl\u{1}",
            "ünï",
            "<a>",
            "x=y",
        ];
        for kind in [
            EntryKind::Account,
            EntryKind::Alias,
            EntryKind::DistributionList,
            EntryKind::DynamicGroup,
            EntryKind::CalendarResource,
        ] {
            for l in locals {
                for d in ["Example.ORG", "x.y.z", "", "a..b"] {
                    let name = format!("{l}@{d}");
                    assert_eq!(
                        default_dn_of(kind, &name),
                        super::super::write::default_dn_text(kind, &name),
                        "{kind} {name}"
                    );
                }
            }
        }
        for kind in [EntryKind::Cos, EntryKind::Server, EntryKind::Domain] {
            for n in locals
                .iter()
                .copied()
                .chain(["", "example.com", "mx.example.com"])
            {
                assert_eq!(
                    default_dn_of(kind, n),
                    super::super::write::default_dn_text(kind, n),
                    "{kind} {n}"
                );
            }
        }
        assert_eq!(
            default_dn_of(EntryKind::GlobalConfig, ""),
            super::super::write::default_dn_text(EntryKind::GlobalConfig, "")
        );
    }

    #[test]
    fn empty_and_blank_inputs() {
        for text in ["", "\n\n", "version: 1\n", "# only a comment\n"] {
            let dir = read_directory_with(text.as_bytes(), &opts(2, 1024)).unwrap();
            assert_eq!(dir, Directory::empty(), "{text:?}");
        }
    }
}
