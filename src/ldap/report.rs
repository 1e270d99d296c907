//! What applying a plan did, and what a dry run predicts.

use std::fmt;

use super::error::{LdapError, Problem};
use super::sink::Operation;

/// The operation that did not go through, and why.
#[derive(Debug)]
pub struct Failure {
    /// The operation.
    pub operation: Operation,
    /// The server's answer ([`LdapError::Server`]) or a transport error
    /// ([`LdapError::Transport`]).
    pub error: LdapError,
}

/// What [`LdapSink::apply`](super::LdapSink::apply) did: `applied` (in order), then at most
/// one of `failed` and `unknown`, then `not_applied` is the whole plan, in order. Nothing is
/// skipped silently.
///
/// An operation whose answer never arrived (the connection broke or timed out after it was
/// sent) is `unknown`, not `failed`: the server may have applied it. To finish such a plan,
/// [`LdapSink::resume_after`](super::LdapSink::resume_after) (or
/// [`LdapSink::resume`](super::LdapSink::resume) with the whole plan, the tools'
/// `--resume`) re-reads the target, skips what is already there and returns the rest.
#[derive(Debug)]
pub struct ApplyReport {
    /// Operations the server accepted, in order (a prefix of the plan).
    pub applied: Vec<Operation>,
    /// The operation that was certainly not applied and stopped the run: refused by the
    /// server, or not sent because the connection was already gone.
    pub failed: Option<Failure>,
    /// The operation that was sent but whose answer never arrived: it may or may not have
    /// been applied.
    pub unknown: Option<Failure>,
    /// Operations after the failed or unknown one, never sent.
    pub not_applied: Vec<Operation>,
}

impl ApplyReport {
    /// True when every operation was applied.
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.unknown.is_none() && self.not_applied.is_empty()
    }

    /// `Ok(self)` when complete, else the error of the failed or unknown operation (the
    /// report is lost; use the fields when it matters).
    pub fn into_result(mut self) -> Result<ApplyReport, LdapError> {
        match self.failed.take().or_else(|| self.unknown.take()) {
            Some(f) => Err(f.error),
            None => Ok(self),
        }
    }

    /// Every operation of the plan again, in order (applied, failed or unknown, not
    /// applied).
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.applied
            .iter()
            .chain(self.failed.iter().map(|f| &f.operation))
            .chain(self.unknown.iter().map(|f| &f.operation))
            .chain(&self.not_applied)
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.operations().count();
        write!(f, "applied {} of {total} operations", self.applied.len())?;
        if self.unknown.is_some() {
            write!(f, ", 1 unknown")?;
        }
        writeln!(f)?;
        for op in &self.applied {
            writeln!(f, "  applied      {op}")?;
        }
        if let Some(fail) = &self.failed {
            writeln!(f, "  FAILED       {}", fail.operation)?;
            writeln!(f, "               {}", fail.error)?;
        }
        if let Some(u) = &self.unknown {
            writeln!(f, "  UNKNOWN      {}", u.operation)?;
            writeln!(f, "               the answer never arrived: {}", u.error)?;
            writeln!(
                f,
                "               the server may or may not have applied it; to finish, run \
                 the same changes again with --resume (LdapSink::resume): it re-reads the \
                 target, skips what is already there and applies the rest"
            )?;
        }
        for op in &self.not_applied {
            writeln!(f, "  not applied  {op}")?;
        }
        Ok(())
    }
}

/// What a dry run found: the operations that would be sent, and the ones the server would
/// very likely refuse, checked with read-only searches against the live tree (entry
/// exists / does not exist / parent exists), following the plan's own earlier operations.
#[derive(Debug)]
pub struct DryRun {
    /// Every operation, in order.
    pub operations: Vec<Operation>,
    /// Predicted refusals (index, DN, reason); empty when none are expected.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dry run: {} operations, nothing sent",
            self.operations.len()
        )?;
        for op in &self.operations {
            writeln!(f, "  {op}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::account;
    use super::super::{Plan, ServerError};
    use super::*;

    #[test]
    fn report_accounts_for_every_operation() {
        let plan = Plan::new(vec![account("a"), account("b"), account("c")])
            .unwrap_or_else(|e| panic!("{e}"));
        let mut ops = plan.operations().to_vec().into_iter();
        let report = ApplyReport {
            applied: ops.next().into_iter().collect(),
            failed: ops.next().map(|operation| Failure {
                operation,
                error: LdapError::Server(ServerError {
                    operation: "add",
                    dn: "uid=b,ou=people,dc=example,dc=com".into(),
                    code: 68,
                    message: String::new(),
                    matched: String::new(),
                }),
            }),
            unknown: None,
            not_applied: ops.collect(),
        };
        assert!(!report.is_complete());
        assert_eq!(report.operations().count(), 3);
        let text = report.to_string();
        assert!(text.starts_with("applied 1 of 3 operations"), "{text}");
        assert!(text.contains("FAILED       #2 add uid=b"), "{text}");
        assert!(text.contains("entryAlreadyExists (68)"), "{text}");
        assert!(text.contains("not applied  #3 add uid=c"), "{text}");
        assert!(report.into_result().is_err());
    }
}
