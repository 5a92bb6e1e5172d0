//! Where `cargo xtask test` spends its time: each phase's wall time and the CPU time of the
//! programs it ran (cargo, rustc, the tests), printed as one table at the end, also when a
//! phase fails. CPU seconds say more than wall times on a shared CI machine.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::Result;

/// The `/proc/<pid>/stat` clock: Linux reports times in USER_HZ, 100 per second (10 ms a tick)
/// on every architecture it exports to user space.
const MILLIS_PER_TICK: u64 = 10;

#[derive(Debug)]
struct Phase {
    name: &'static str,
    wall: Duration,
    /// User and system time of the children waited for in the phase; `None` off Linux.
    cpu: Option<Duration>,
    ok: bool,
}

/// The phases run so far.
#[derive(Debug)]
pub struct Phases {
    started: Instant,
    done: Vec<Phase>,
}

impl Default for Phases {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            done: Vec::new(),
        }
    }
}

impl Phases {
    /// Run `step` as the phase `name`, recording its times whether it succeeds or not.
    pub fn time<T>(&mut self, name: &'static str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        let cpu_before = children_cpu();
        let started = Instant::now();
        let result = step();
        let cpu = children_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        self.done.push(Phase {
            name,
            wall: started.elapsed(),
            cpu,
            ok: result.is_ok(),
        });
        result
    }

    /// The table: one row per phase, then the total.
    pub fn summary(&self) -> String {
        let mut out = String::from("xtask: time per phase (wall s, CPU s of its programs)\n");
        let mut cpu_total = Duration::ZERO;
        for phase in &self.done {
            cpu_total += phase.cpu.unwrap_or_default();
            let _ = writeln!(
                out,
                "xtask:   {:<14} {:>7.1} {:>8}{}",
                phase.name,
                phase.wall.as_secs_f64(),
                phase
                    .cpu
                    .map_or_else(|| "-".to_owned(), |c| format!("{:.1}", c.as_secs_f64())),
                if phase.ok { "" } else { "  FAILED" }
            );
        }
        let _ = write!(
            out,
            "xtask:   {:<14} {:>7.1} {:>8.1}",
            "total",
            self.started.elapsed().as_secs_f64(),
            cpu_total.as_secs_f64()
        );
        out
    }
}

/// User plus system time of this process's children that were waited for (`cutime` and
/// `cstime` of `/proc/self/stat`); waiting is recursive, so cargo's rustc and test processes
/// count.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_children_cpu(&stat)
}

fn parse_children_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 16 and 17 of the line; `rest` starts at field 3.
    let user_ticks: u64 = fields.get(13)?.parse().ok()?;
    let system_ticks: u64 = fields.get(14)?.parse().ok()?;
    Some(Duration::from_millis(
        (user_ticks + system_ticks) * MILLIS_PER_TICK,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_times_are_read_after_a_command_name_with_spaces() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime ...
        let stat = "42 (x task) S 1 42 42 0 -1 4194560 10 20 0 0 7 3 1250 250 20 0 1 0";
        assert_eq!(parse_children_cpu(stat), Some(Duration::from_secs(15)));
        assert_eq!(parse_children_cpu("42 (xtask) S 1"), None);
    }

    #[test]
    fn the_summary_has_a_row_per_phase_and_marks_the_failed_one() {
        let mut phases = Phases::default();
        phases.time("fmt", || Ok(())).expect("ok");
        let failed = phases.time("clippy", || -> Result<()> { anyhow::bail!("no") });
        assert!(failed.is_err());
        let summary = phases.summary();
        let rows: Vec<&str> = summary.lines().collect();
        assert_eq!(rows.len(), 4, "{summary}");
        assert!(
            rows[1].contains("fmt") && !rows[1].contains("FAILED"),
            "{summary}"
        );
        assert!(
            rows[2].contains("clippy") && rows[2].ends_with("FAILED"),
            "{summary}"
        );
        assert!(rows[3].contains("total"), "{summary}");
    }

    #[test]
    fn a_phase_counts_the_cpu_of_the_programs_it_waited_for() {
        let mut phases = Phases::default();
        phases
            .time("spin", || {
                let status = std::process::Command::new("sh")
                    .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
                    .status()?;
                anyhow::ensure!(status.success());
                Ok(())
            })
            .expect("sh runs");
        let cpu = phases.done[0].cpu.expect("Linux reports children's times");
        assert!(cpu > Duration::ZERO, "{cpu:?}");
    }
}
