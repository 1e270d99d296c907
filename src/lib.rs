//! # zimbra-prov
//!
//! Model Zimbra Collaboration Suite provisioning well enough to answer, before anyone touches a
//! production mail system, the question every staged migration lives or dies by: *for this
//! recipient, entering at this server, where does the mail end up, and can it loop?*
//!
//! The crate is organised by concern; data flows one way:
//!
//! ```text
//! zmprov script ─┐
//! slapcat LDIF ──┼──> dit (LDAP entries <-> typed objects) ──> model::Directory ──┐
//! live LDAP ─────┘                                                              │
//! scenario.toml ── MTAs, DNS, directories, expectations, steps ──> route::Topology
//!                                                                     │
//!            route::simulate(topology, entry, rcpt) ──> Trace (hops, steps, a disposition per leaf)
//!            verify::check(topology) ──> Report (findings, each with its trace)
//!            verify::plan(steps) / verify::diff(before, after)
//! model::Directory ──> dit ──> ldif::Writer (slapadd mode); dit::plan_move ──> LDIF + conflicts
//! ```
//!
//! | module | job |
//! |---|---|
//! | [`attrs`] | catalog of Zimbra's attributes and object classes, value validation, OpenLDAP schema |
//! | [`model`] | typed Zimbra objects (accounts, domains, COS, servers, ...), transports, addresses, inheritance |
//! | [`zmprov`] | parse and apply zmprov scripts with Zimbra's semantics and errors |
//! | [`dn`] | RFC 4514 distinguished names |
//! | [`ldif`] | RFC 2849 streaming LDIF reader and writer |
//! | `ldap` | (feature `ldap`) read a live directory with paged searches; apply change sets with an exact report |
//! | [`dit`] | Zimbra's LDAP layout <-> typed model, lossless slapcat read/write, domain move plans |
//! | [`route`] | topology (Zimbra and foreign MTAs, DNS), the Zimbra MTA's per-recipient decision, multi-hop simulation and traces |
//! | [`scenario`] | TOML scenario files: directories, MTAs, DNS, expectations and migration steps |
//! | [`verify`] | every address class from every entry point: loops, lost mail, split brain, endless deferrals, hairpins, backscatter; migration plans and diffs |
//! | [`runbook`] | migration specs to runbooks: ordered steps with commands per system, rollbacks, and every intermediate state verified |
//! | `strategy` | (feature `proptest`) proptest strategies for addresses, directories, split-domain topologies and migration plans |
//!
//! Start with the README's quick start, `cargo run --example split_domain`, and `DESIGN.md` for
//! the choices behind the modules.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod attrs;
pub mod dit;
pub mod dn;
#[cfg(feature = "ldap")]
#[cfg_attr(docsrs, doc(cfg(feature = "ldap")))]
pub mod ldap;
pub mod ldif;
pub mod model;
mod par;
pub mod route;
pub mod runbook;
pub mod scenario;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategy;
pub mod verify;
pub mod zmprov;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
