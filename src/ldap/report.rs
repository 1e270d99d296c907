//! What applying a plan did, and what a dry run predicts.

use std::fmt;

use super::error::{LdapError, Problem};
use super::sink::Operation;

/// The operation that failed and why.
#[derive(Debug)]
pub struct Failure {
    /// The operation that was refused (it was not applied).
    pub operation: Operation,
    /// The server's answer ([`LdapError::Server`]) or a transport error.
    pub error: LdapError,
}

/// What [`LdapSink::apply`] did: `applied` (in order) + `failed` + `not_applied` is the
/// whole plan, in order. Nothing is skipped silently.
#[derive(Debug)]
pub struct ApplyReport {
    /// Operations the server accepted, in order (a prefix of the plan).
    pub applied: Vec<Operation>,
    /// The first operation the server refused, if any.
    pub failed: Option<Failure>,
    /// Operations after the failed one, never sent.
    pub not_applied: Vec<Operation>,
}

impl ApplyReport {
    /// True when every operation was applied.
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.not_applied.is_empty()
    }

    /// `Ok(self)` when complete, else the error of the failed operation (the report is
    /// lost; use the fields when it matters).
    pub fn into_result(self) -> Result<ApplyReport, LdapError> {
        match self.failed {
            Some(f) => Err(f.error),
            None => Ok(self),
        }
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total =
            self.applied.len() + usize::from(self.failed.is_some()) + self.not_applied.len();
        writeln!(f, "applied {} of {total} operations", self.applied.len())?;
        for op in &self.applied {
            writeln!(f, "  applied      {op}")?;
        }
        if let Some(fail) = &self.failed {
            writeln!(f, "  FAILED       {}", fail.operation)?;
            writeln!(f, "               {}", fail.error)?;
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
            not_applied: ops.collect(),
        };
        assert!(!report.is_complete());
        let text = report.to_string();
        assert!(text.starts_with("applied 1 of 3 operations"), "{text}");
        assert!(text.contains("FAILED       #2 add uid=b"), "{text}");
        assert!(text.contains("entryAlreadyExists (68)"), "{text}");
        assert!(text.contains("not applied  #3 add uid=c"), "{text}");
        assert!(report.into_result().is_err());
    }
}
