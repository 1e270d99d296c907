//! Graphviz output of a trace.

use std::fmt::Write as _;

use super::trace::{Disposition, Node, NodeKind, Trace};

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// DOT node ids: the entry and the MTAs live in separate namespaces, so an entry named like an
/// MTA (`--from primary`) is a node of its own, not a self-edge.
fn mta_id(name: &str) -> String {
    q(&format!("mta:{name}"))
}

struct Dot {
    nodes: Vec<String>,
    edges: Vec<String>,
    leaves: usize,
}

impl Dot {
    fn walk(&mut self, n: &Node, from: &str, style: &str) {
        let mut here = from.to_string();
        if n.kind == NodeKind::Mta {
            let decl = format!(
                "  {} [shape=ellipse, label={}];",
                mta_id(&n.name),
                q(&format!("{}\n{}", n.name, n.host.as_deref().unwrap_or("")))
            );
            if !self.nodes.contains(&decl) {
                self.nodes.push(decl);
            }
            self.edges.push(format!(
                "  {} -> {} [label={}{style}];",
                from,
                mta_id(&n.name),
                q(&format!("{} (hop {})", n.recipient, n.hops))
            ));
            here = mta_id(&n.name);
        }
        if let Some(d) = &n.disposition {
            self.leaves += 1;
            let id = q(&format!("leaf{}", self.leaves));
            let color = match d {
                Disposition::Delivered { .. } => "palegreen",
                Disposition::LeftTopology { .. } => "lightblue",
                Disposition::Deferred { .. } => "khaki",
                _ => "lightpink",
            };
            let mut label = format!("{}\n{}", n.recipient, d);
            if let Some(dsn) = &n.dsn {
                let _ = write!(label, "\n{dsn}");
            }
            self.nodes.push(format!(
                "  {id} [shape=box, style=filled, fillcolor={color}, label={}];",
                q(&label)
            ));
            self.edges
                .push(format!("  {here} -> {id}{};", edge_style(style)));
        }
        for c in &n.children {
            self.walk(c, &here, style);
        }
    }
}

fn edge_style(style: &str) -> String {
    if style.is_empty() {
        String::new()
    } else {
        format!(" [{}]", style.trim_start_matches(", "))
    }
}

impl Trace {
    /// Graphviz DOT: MTAs as nodes, hops as edges (labelled with the recipient and hop count),
    /// a box per leaf with its disposition (and DSN); DSN paths as dashed edges.
    pub fn to_dot(&self) -> String {
        let mut d = Dot {
            nodes: Vec::new(),
            edges: Vec::new(),
            leaves: 0,
        };
        let start = q(&format!("entry:{}", self.from));
        d.nodes.push(format!(
            "  {start} [shape=doublecircle, label={}];",
            q(&self.from)
        ));
        for c in &self.root.children {
            d.walk(c, &start, "");
        }
        if let Some(disp) = &self.root.disposition {
            d.leaves += 1;
            let id = q(&format!("leaf{}", d.leaves));
            d.nodes.push(format!(
                "  {id} [shape=box, label={}];",
                q(&disp.to_string())
            ));
            d.edges.push(format!("  {start} -> {id};"));
        }
        for (i, r) in self.dsns.iter().enumerate() {
            let start = q(&format!("dsn{}", i + 1));
            d.nodes.push(format!(
                "  {start} [shape=note, label={}];",
                q(&format!(
                    "DSN #{} by {}\nto {}\n{}",
                    i + 1,
                    r.writer,
                    r.to,
                    r.fate
                ))
            ));
            let style = ", style=dashed";
            for c in &r.root.children {
                d.walk(c, &start, style);
            }
        }
        let mut out = String::from("digraph route {\n  rankdir=LR;\n");
        let _ = writeln!(
            out,
            "  label={};",
            q(&format!("{} from {}", self.recipient, self.from))
        );
        for l in d.nodes.iter().chain(d.edges.iter()) {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}
