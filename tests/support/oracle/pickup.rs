//! The pickup path: addresses the submit smtpd refuses as bad syntax are handed to
//! sendmail(1), as a local program would submit them, so that the oracle reports what Postfix
//! does with them on that path (no smtpd syntax check: trivial-rewrite and the queue manager
//! decide), which is what the simulator's `Arrival::PICKUP` decision models.

use super::*;

pub(super) const SENDMAIL: &str = "/usr/sbin/sendmail";

impl Oracle {
    /// Resubmits through sendmail every address of `addrs` whose result is a `501` refusal by
    /// the submit smtpd, and replaces its result by the queue id pickup logged (looked up in
    /// the log from `start_pos`, by a sender unique to the address). An address sendmail does
    /// not take, or whose queue id does not show up in time, keeps its refusal.
    pub(super) fn resubmit_via_pickup(
        &mut self,
        addrs: &[&str],
        results: &mut [Option<Submitted>],
        start_pos: u64,
        deadline: Instant,
    ) -> Result<(), OracleError> {
        let refused: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                matches!(r, Some(Submitted::Refused { stage: "smtpd", reply }) if reply.code == 501)
            })
            .map(|(i, _)| i)
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        self.pickups += 1;
        // all submissions at once (each sendmail waits for postdrop), then their exit statuses
        let mut children = Vec::new();
        for &i in &refused {
            let sender = format!("oracle-pickup-{}-{i}@oracle.invalid", self.pickups);
            let mut child = Command::new(SENDMAIL)
                .arg("-C")
                .arg(self.pf_dir())
                .arg("-f")
                .arg(&sender)
                .arg("-N")
                .arg("never")
                .arg("-i")
                .arg("--")
                .arg(addrs[i])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| OracleError::Command {
                    cmd: format!("{SENDMAIL} -- {}", addrs[i]),
                    status: e.to_string(),
                    output: String::new(),
                })?;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"Subject: zimbra-prov oracle probe\n\nprobe\n");
            }
            children.push((sender, i, child));
        }
        let mut senders: HashMap<String, usize> = HashMap::new();
        for (sender, i, mut child) in children {
            if child.wait().is_ok_and(|s| s.success()) {
                senders.insert(sender, i);
            }
        }
        // "... postfix/pickup[PID]: QID: uid=0 from=<SENDER>"
        let log_path = self.dir.join("maillog");
        while !senders.is_empty() && Instant::now() < deadline {
            let text = fs::read(&log_path).unwrap_or_default();
            let start = usize::try_from(start_pos).unwrap_or(0).min(text.len());
            for line in String::from_utf8_lossy(&text[start..]).lines() {
                let Some((_, rest)) = line.split_once("/pickup[") else {
                    continue;
                };
                let Some((_, rest)) = rest.split_once("]: ") else {
                    continue;
                };
                let Some((qid, msg)) = rest.split_once(": ") else {
                    continue;
                };
                let Some(sender) = msg
                    .split_once("from=<")
                    .and_then(|(_, s)| s.split_once('>'))
                    .map(|(s, _)| s)
                else {
                    continue;
                };
                if let Some(i) = senders.remove(sender) {
                    results[i] = Some(Submitted::Queued(qid.to_string()));
                }
            }
            if !senders.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}
