//! Generator of `src/attrs/generated.rs` from Zimbra's attribute and object-class XML.
//!
//! Used by `examples/gen_attrs.rs` (the command line) and by `tests/attrs_generated.rs` (which
//! regenerates and compares with the committed file). Both include this file with
//! `#[path = "../tools/attrgen/gen.rs"] mod gen;`, so it only depends on `quick-xml` (a
//! dev-dependency) and std.
//!
//! Inputs: `zimbra-attrs.xml`, `zimbra-ocs.xml` and `amavisd-new-attrs.xml` from Zimbra's
//! `store/conf/attrs/`. Output: Rust tables of facts (never the `<desc>` prose), laid out the way
//! rustfmt formats them, so the committed file passes `cargo fmt --check` unchanged.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::Reader;
use quick_xml::XmlVersion;

/// The amavisd-new LDAP attributes as defined by `amavisd.schema` (Release 1.2.2, as shipped by
/// Zimbra in `zm-ldap-utilities/conf/ldap/amavisd.schema`): name, last OID arc under
/// `1.3.6.1.4.1.15312.2.2.1`, SINGLE-VALUE, EQUALITY rule. `amavisd-new-attrs.xml` lists the
/// same attributes for value checking (plus `amavisDisclaimerOptions`, which that schema lacks).
const AMAVIS_LDAP: &[(&str, u32, bool, &str)] = &[
    ("amavisVirusLover", 1, true, "booleanMatch"),
    ("amavisBannedFilesLover", 2, true, "booleanMatch"),
    ("amavisBypassVirusChecks", 3, true, "booleanMatch"),
    ("amavisBypassSpamChecks", 4, true, "booleanMatch"),
    ("amavisSpamTagLevel", 5, true, "caseIgnoreIA5Match"),
    ("amavisSpamTag2Level", 6, true, "caseIgnoreIA5Match"),
    ("amavisSpamKillLevel", 7, true, "caseIgnoreIA5Match"),
    ("amavisSpamModifiesSubj", 8, true, "booleanMatch"),
    ("amavisWhitelistSender", 9, false, "caseIgnoreIA5Match"),
    ("amavisBlacklistSender", 10, false, "caseIgnoreIA5Match"),
    ("amavisSpamQuarantineTo", 11, true, "caseIgnoreIA5Match"),
    ("amavisSpamLover", 12, true, "booleanMatch"),
    ("amavisBadHeaderLover", 13, true, "booleanMatch"),
    ("amavisBypassBannedChecks", 14, true, "booleanMatch"),
    ("amavisBypassHeaderChecks", 15, true, "booleanMatch"),
    ("amavisVirusQuarantineTo", 16, true, "caseIgnoreIA5Match"),
    ("amavisBannedQuarantineTo", 17, true, "caseIgnoreIA5Match"),
    (
        "amavisBadHeaderQuarantineTo",
        18,
        true,
        "caseIgnoreIA5Match",
    ),
    ("amavisLocal", 19, true, "booleanMatch"),
    ("amavisMessageSizeLimit", 20, true, "caseIgnoreIA5Match"),
    ("amavisWarnVirusRecip", 21, true, "booleanMatch"),
    ("amavisWarnBannedRecip", 22, true, "booleanMatch"),
    ("amavisWarnBadHeaderRecip", 23, true, "booleanMatch"),
    ("amavisVirusAdmin", 24, true, "caseIgnoreIA5Match"),
    ("amavisNewVirusAdmin", 25, true, "caseIgnoreIA5Match"),
    ("amavisSpamAdmin", 26, true, "caseIgnoreIA5Match"),
    ("amavisBannedAdmin", 27, true, "caseIgnoreIA5Match"),
    ("amavisBadHeaderAdmin", 28, true, "caseIgnoreIA5Match"),
    ("amavisBannedRuleNames", 29, true, "caseIgnoreIA5Match"),
    ("amavisSpamDsnCutoffLevel", 30, true, "caseIgnoreIA5Match"),
    (
        "amavisSpamQuarantineCutoffLevel",
        31,
        true,
        "caseIgnoreIA5Match",
    ),
    ("amavisSpamSubjectTag", 32, true, "caseExactIA5Match"),
    ("amavisSpamSubjectTag2", 33, true, "caseExactIA5Match"),
    ("amavisArchiveQuarantineTo", 34, true, "caseIgnoreIA5Match"),
    ("amavisAddrExtensionVirus", 35, true, "caseExactIA5Match"),
    ("amavisAddrExtensionSpam", 36, true, "caseExactIA5Match"),
    ("amavisAddrExtensionBanned", 37, true, "caseExactIA5Match"),
    (
        "amavisAddrExtensionBadHeader",
        38,
        true,
        "caseExactIA5Match",
    ),
    ("amavisSpamTag3Level", 39, true, "caseIgnoreIA5Match"),
    ("amavisSpamSubjectTag3", 40, true, "caseExactIA5Match"),
    (
        "amavisUncheckedQuarantineTo",
        41,
        true,
        "caseIgnoreIA5Match",
    ),
    ("amavisCleanQuarantineTo", 42, true, "caseIgnoreIA5Match"),
    ("amavisUncheckedLover", 43, true, "booleanMatch"),
    ("amavisForwardMethod", 44, false, "caseIgnoreIA5Match"),
    ("amavisSaUserConf", 45, true, "caseExactIA5Match"),
    ("amavisSaUserName", 46, true, "caseExactIA5Match"),
];

/// Flag names of `flags="..."`, in bit order of `AttrFlags::from_bits`.
pub const FLAG_NAMES: [&str; 12] = [
    "accountInherited",
    "domainInherited",
    "serverInherited",
    "accountCosDomainInherited",
    "idn",
    "accountInfo",
    "domainInfo",
    "domainAdminModifiable",
    "serverPreferAlwaysOn",
    "ephemeral",
    "expirable",
    "dynamic",
];

const TYPES: [(&str, &str); 19] = [
    ("boolean", "Boolean"),
    ("binary", "Binary"),
    ("certificate", "Certificate"),
    ("duration", "Duration"),
    ("gentime", "Gentime"),
    ("enum", "Enum"),
    ("email", "Email"),
    ("emailp", "Emailp"),
    ("cs_emailp", "CsEmailp"),
    ("id", "Id"),
    ("integer", "Integer"),
    ("long", "Long"),
    ("port", "Port"),
    ("regex", "Regex"),
    ("string", "String"),
    ("astring", "Astring"),
    ("cstring", "Cstring"),
    ("ostring", "Ostring"),
    ("phone", "Phone"),
];

/// A parsed XML element: name, attributes, text (concatenated) and child elements.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn child_texts(&self, tag: &str) -> Vec<String> {
        self.children
            .iter()
            .filter(|c| c.name == tag)
            .map(|c| c.text.trim().to_string())
            .collect()
    }
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let mut e = Element {
        name: start.name().into_inner().to_string(),
        ..Element::default()
    };
    for a in start.attributes() {
        let a = a.map_err(|err| format!("bad XML attribute: {err}"))?;
        let key = a.key.into_inner().to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("bad value of XML attribute {key}: {err}"))?;
        e.attrs.push((key, value.into_owned()));
    }
    Ok(e)
}

/// Parses a whole XML document into its root element.
fn parse_xml(xml: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {pos}: {e}"))?;
        match ev {
            Event::Start(s) => stack.push(element_of(&s)?),
            Event::Empty(s) => {
                let e = element_of(&s)?;
                stack
                    .last_mut()
                    .ok_or("XML nesting error")?
                    .children
                    .push(e);
            }
            Event::End(_) => {
                let e = stack.pop().ok_or("unbalanced XML end tag")?;
                stack
                    .last_mut()
                    .ok_or("unbalanced XML end tag")?
                    .children
                    .push(e);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .ok_or_else(|| format!("unknown XML entity &{};", r.xml10_content()))?
                        .to_string(),
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().ok_or("empty XML document")?;
    if !stack.is_empty() {
        return Err("XML document ends inside an element".to_string());
    }
    doc.children
        .pop()
        .filter(|_| doc.children.is_empty())
        .ok_or_else(|| "XML document must have exactly one root element".to_string())
}

/// One attribute, as read from the XML.
#[derive(Debug)]
struct Attr {
    name: String,
    id: Option<u32>,
    ty: &'static str,
    single: bool,
    required_in: Vec<String>,
    optional_in: Vec<String>,
    flags: u16,
    immutable: bool,
    enum_values: Vec<String>,
    min: Option<String>,
    max: Option<String>,
    regex: Option<String>,
    global_config: Vec<String>,
    default_cos: Vec<String>,
    default_external_cos: Vec<String>,
    callback: Option<String>,
    since: Option<String>,
    deprecated_since: Option<String>,
    requires_restart: Vec<String>,
    ordering: Option<String>,
    origin: &'static str,
    external_oid: Option<String>,
}

fn csv(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn read_attr(e: &Element, amavis: bool) -> Result<Attr, String> {
    let name = e.attr("name").ok_or("<attr> without name")?.to_string();
    let ty_xml = e.attr("type").ok_or_else(|| format!("{name}: no type"))?;
    let ty = TYPES
        .iter()
        .find(|(x, _)| *x == ty_xml)
        .map(|(_, r)| *r)
        .ok_or_else(|| format!("{name}: unknown type {ty_xml:?}"))?;
    let id = match e.attr("id") {
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| format!("{name}: bad id {s:?}"))?,
        ),
        None => None,
    };
    let mut flags = 0u16;
    for f in csv(e.attr("flags")) {
        let bit = FLAG_NAMES
            .iter()
            .position(|n| *n == f)
            .ok_or_else(|| format!("{name}: unknown flag {f:?}"))?;
        flags |= 1 << bit;
    }
    let value = e.attr("value");
    let amavis_ldap = AMAVIS_LDAP.iter().find(|(n, ..)| *n == name);
    let single = match (e.attr("cardinality"), amavis_ldap) {
        (Some("single"), _) => true,
        (Some("multi"), _) => false,
        (Some(other), _) => return Err(format!("{name}: bad cardinality {other:?}")),
        (None, Some((_, _, single, _))) => *single,
        (None, None) => false,
    };
    Ok(Attr {
        id,
        ty,
        single,
        required_in: csv(e.attr("requiredIn")),
        optional_in: csv(e.attr("optionalIn")),
        flags,
        immutable: e.attr("immutable") == Some("1"),
        enum_values: if ty == "Enum" { csv(value) } else { Vec::new() },
        min: e.attr("min").map(str::to_string),
        max: e.attr("max").map(str::to_string),
        regex: if ty == "Regex" {
            value.map(str::to_string)
        } else {
            None
        },
        global_config: e.child_texts("globalConfigValue"),
        default_cos: e.child_texts("defaultCOSValue"),
        default_external_cos: e.child_texts("defaultExternalCOSValue"),
        callback: e.attr("callback").map(str::to_string),
        since: e.attr("since").map(str::to_string),
        deprecated_since: e.attr("deprecatedSince").map(str::to_string),
        requires_restart: csv(e.attr("requiresRestart")),
        ordering: e.attr("order").map(str::to_string),
        origin: match (amavis, id) {
            (true, _) => "Amavis",
            (false, Some(_)) => "Zimbra",
            (false, None) => "Standard",
        },
        external_oid: amavis_ldap.map(|(_, n, ..)| format!("1.3.6.1.4.1.15312.2.2.1.{n}")),
        name,
    })
}

/// One object class, as read from the XML.
struct ObjectClass {
    id: u32,
    name: String,
    sup: String,
    kind: &'static str,
}

fn read_oc(e: &Element) -> Result<ObjectClass, String> {
    let name = e
        .attr("name")
        .ok_or("<objectclass> without name")?
        .to_string();
    let id = e
        .attr("id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{name}: missing or bad id"))?;
    let kind = match e.attr("type") {
        Some("STRUCTURAL") => "Structural",
        Some("AUXILIARY") => "Auxiliary",
        Some("ABSTRACT") => "Abstract",
        other => return Err(format!("{name}: bad type {other:?}")),
    };
    let sup = e
        .child_texts("sup")
        .into_iter()
        .next()
        .unwrap_or_else(|| "top".to_string());
    Ok(ObjectClass {
        id,
        name,
        sup,
        kind,
    })
}

const MAX_WIDTH: usize = 100;
const ARRAY_WIDTH: usize = 60;
const SHORT_ITEM: usize = 10;

fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// Writes `<indent><field>: &[...],` the way rustfmt lays out an array of string literals.
fn write_str_array(out: &mut String, indent: usize, field: &str, items: &[String]) {
    let pad = " ".repeat(indent);
    let lits: Vec<String> = items.iter().map(|s| lit(s)).collect();
    let inner = lits.join(", ");
    let one = format!("{pad}{field}: &[{inner}],");
    if inner.len() <= ARRAY_WIDTH && one.len() <= MAX_WIDTH {
        out.push_str(&one);
        out.push('\n');
        return;
    }
    let _ = writeln!(out, "{pad}{field}: &[");
    let inner_pad = " ".repeat(indent + 4);
    if lits.len() > 1 && lits.iter().all(|l| l.len() <= SHORT_ITEM) {
        // rustfmt's "mixed" layout: as many short items per line as fit.
        let mut line = String::new();
        for l in &lits {
            let candidate = if line.is_empty() {
                format!("{inner_pad}{l},")
            } else {
                format!("{line} {l},")
            };
            if candidate.len() > MAX_WIDTH && !line.is_empty() {
                out.push_str(&line);
                out.push('\n');
                line = format!("{inner_pad}{l},");
            } else {
                line = candidate;
            }
        }
        out.push_str(&line);
        out.push('\n');
    } else {
        for l in &lits {
            let _ = writeln!(out, "{inner_pad}{l},");
        }
    }
    let _ = writeln!(out, "{pad}],");
}

fn write_opt(out: &mut String, field: &str, v: &Option<String>) {
    if let Some(s) = v {
        let _ = writeln!(out, "        {field}: Some({}),", lit(s));
    }
}

fn write_attr(out: &mut String, a: &Attr) {
    out.push_str("    AttrDef {\n");
    let _ = writeln!(out, "        name: {},", lit(&a.name));
    if let Some(id) = a.id {
        let _ = writeln!(out, "        id: Some({id}),");
    }
    let _ = writeln!(out, "        ty: AttrType::{},", a.ty);
    if a.single {
        out.push_str("        cardinality: Cardinality::Single,\n");
    }
    let arrays: [(&str, &Vec<String>); 7] = [
        ("required_in", &a.required_in),
        ("optional_in", &a.optional_in),
        ("enum_values", &a.enum_values),
        ("global_config_values", &a.global_config),
        ("default_cos_values", &a.default_cos),
        ("default_external_cos_values", &a.default_external_cos),
        ("requires_restart", &a.requires_restart),
    ];
    for (i, (field, items)) in arrays.iter().enumerate() {
        if !items.is_empty() {
            write_str_array(out, 8, field, items);
        }
        if i == 1 && a.flags != 0 {
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(bit, _)| a.flags & (1 << bit) != 0)
                .map(|(_, n)| *n)
                .collect();
            let _ = writeln!(
                out,
                "        flags: AttrFlags::from_bits(0x{:03x}), // {}",
                a.flags,
                names.join(", ")
            );
        }
        if i == 1 && a.immutable {
            out.push_str("        immutable: true,\n");
        }
    }
    write_opt(out, "min", &a.min);
    write_opt(out, "max", &a.max);
    write_opt(out, "regex", &a.regex);
    write_opt(out, "callback", &a.callback);
    write_opt(out, "since", &a.since);
    write_opt(out, "deprecated_since", &a.deprecated_since);
    write_opt(out, "ordering", &a.ordering);
    if a.origin != "Zimbra" {
        let _ = writeln!(out, "        origin: AttrOrigin::{},", a.origin);
    }
    write_opt(out, "external_oid", &a.external_oid);
    out.push_str("        ..D\n    },\n");
}

/// Generates the text of `src/attrs/generated.rs`.
pub fn generate(attrs_xml: &str, ocs_xml: &str, amavis_xml: &str) -> Result<String, String> {
    let attrs_root = parse_xml(attrs_xml).map_err(|e| format!("zimbra-attrs.xml: {e}"))?;
    let ocs_root = parse_xml(ocs_xml).map_err(|e| format!("zimbra-ocs.xml: {e}"))?;
    let amavis_root = parse_xml(amavis_xml).map_err(|e| format!("amavisd-new-attrs.xml: {e}"))?;

    let mut attrs = Vec::new();
    for (root, amavis) in [(&attrs_root, false), (&amavis_root, true)] {
        for e in root.children.iter().filter(|c| c.name == "attr") {
            attrs.push(read_attr(e, amavis)?);
        }
    }
    attrs.sort_by_key(|a| a.name.to_ascii_lowercase());
    let mut seen = BTreeSet::new();
    for a in &attrs {
        if !seen.insert(a.name.to_ascii_lowercase()) {
            return Err(format!("duplicate attribute name {}", a.name));
        }
    }
    for (n, ..) in AMAVIS_LDAP {
        if !seen.contains(&n.to_ascii_lowercase()) {
            return Err(format!(
                "amavisd.schema attribute {n} missing from amavisd-new-attrs.xml"
            ));
        }
    }
    let mut ocs = ocs_root
        .children
        .iter()
        .filter(|c| c.name == "objectclass")
        .map(read_oc)
        .collect::<Result<Vec<_>, _>>()?;
    ocs.sort_by_key(|o| o.id);

    let mut out = String::new();
    out.push_str(
        "//! GENERATED by `cargo run --example gen_attrs -- zimbra-attrs.xml zimbra-ocs.xml \
         amavisd-new-attrs.xml`\n\
         //! (logic in `tools/attrgen/gen.rs`). Do not edit by hand: `tests/attrs_generated.rs` \
         checks it\n\
         //! against the XML. Facts only (names, ids, types, classes, flags, constraints, \
         defaults).\n\n",
    );
    out.push_str(
        "use super::{\n    AttrDef, AttrFlags, AttrOrigin, AttrType, Cardinality, ObjectClassDef, ObjectClassKind,\n};\n\n",
    );
    out.push_str(
        "/// Defaults of the table rows below: a multi-valued Zimbra string with nothing else set.\n\
         const D: AttrDef = AttrDef {\n    name: \"\",\n    id: None,\n    ty: AttrType::String,\n    \
         cardinality: Cardinality::Multi,\n    required_in: &[],\n    optional_in: &[],\n    \
         flags: AttrFlags::NONE,\n    immutable: false,\n    enum_values: &[],\n    min: None,\n    \
         max: None,\n    regex: None,\n    global_config_values: &[],\n    default_cos_values: &[],\n    \
         default_external_cos_values: &[],\n    callback: None,\n    since: None,\n    \
         deprecated_since: None,\n    requires_restart: &[],\n    ordering: None,\n    \
         origin: AttrOrigin::Zimbra,\n    external_oid: None,\n};\n\n",
    );
    let _ = writeln!(
        out,
        "/// Every attribute ({} from zimbra-attrs.xml and amavisd-new-attrs.xml), sorted by \
         lower-cased name.",
        attrs.len()
    );
    out.push_str("pub(super) static ATTRS: &[AttrDef] = &[\n");
    for a in &attrs {
        write_attr(&mut out, a);
    }
    out.push_str("];\n\n");

    out.push_str("/// Zimbra's object classes (zimbra-ocs.xml), sorted by id.\n");
    out.push_str("pub(super) static OBJECT_CLASSES: &[ObjectClassDef] = &[\n");
    for o in &ocs {
        let _ = writeln!(
            out,
            "    ObjectClassDef {{\n        name: {},\n        id: {},\n        sup: {},\n        \
             kind: ObjectClassKind::{},\n    }},",
            lit(&o.name),
            o.id,
            lit(&o.sup),
            o.kind
        );
    }
    out.push_str("];\n\n");

    out.push_str(
        "/// amavisd-new LDAP attributes (amavisd.schema): name, last arc of \
         `1.3.6.1.4.1.15312.2.2.1.<n>`,\n/// SINGLE-VALUE, EQUALITY rule.\n",
    );
    out.push_str("pub(super) static AMAVIS_LDAP: &[(&str, u32, bool, &str)] = &[\n");
    for (n, arc, single, eq) in AMAVIS_LDAP {
        let inner = format!("{}, {arc}, {single}, {}", lit(n), lit(eq));
        if inner.len() <= ARRAY_WIDTH {
            let _ = writeln!(out, "    ({inner}),");
        } else {
            // rustfmt puts a tuple wider than 60 characters one element per line.
            let _ = writeln!(
                out,
                "    (\n        {},\n        {arc},\n        {single},\n        {},\n    ),",
                lit(n),
                lit(eq)
            );
        }
    }
    out.push_str("];\n");
    Ok(out)
}

/// Names of the amavisd-new attributes the generator knows LDAP facts for (used by tests).
#[allow(dead_code)]
pub fn amavis_names() -> impl Iterator<Item = &'static str> {
    AMAVIS_LDAP.iter().map(|(n, ..)| *n)
}

/// The XML type names the generator knows, in the order of `zimbra_prov::attrs::ALL_TYPES`
/// (used by tests to keep the two in step).
#[allow(dead_code)]
pub fn type_names() -> impl Iterator<Item = &'static str> {
    TYPES.iter().map(|(x, _)| *x)
}
