//! KPIs over the integration history: pure functions over [`Integration`]s and
//! [`AuditEvent`]s, shared by every reader of history (the `sig` binary's reports and demo
//! summary, the Python bindings), so each shows the same numbers for the same store.
//!
//! - [`summary`]: counts per status, success and failure rates, mean / median / p95
//!   integration time;
//! - [`held_time`]: time spent held for a person, reported on its own (DESIGN.md: integration
//!   time leaves it out);
//! - [`failures_per_step`]: integrations that ended failed at each step, and step errors
//!   (retried ones included) from the audit trail;
//! - [`volume_per_day`]: integrations received per business day (America/Sao_Paulo) and
//!   where they stand now.
//!
//! **Integration time** is [`Integration::integration_ms`]: received → finished, less the time
//! held; only integrations that reached `done` count towards its statistics. Percentiles use
//! the nearest-rank method (the value at rank ⌈p·n⌉ of the sorted times), so every figure is a
//! time some integration actually took.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::ids::IntegrationId;
use crate::store::{AuditEvent, AuditOutcome, Integration, IntegrationStatus};

/// The business time zone days are counted in (DESIGN.md, "Naming and forms").
pub const BUSINESS_TZ: Tz = chrono_tz::America::Sao_Paulo;

/// Headline KPIs over a set of integrations.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Integrations counted.
    pub total: usize,
    /// Done.
    pub done: usize,
    /// Failed.
    pub failed: usize,
    /// Held for a person.
    pub held: usize,
    /// Still pending.
    pub pending: usize,
    /// Cancelled.
    pub cancelled: usize,
    /// done ÷ (done + failed), when any finished.
    pub success_rate: Option<f64>,
    /// failed ÷ (done + failed), when any finished.
    pub failure_rate: Option<f64>,
    /// Mean integration time of the done ones, ms.
    pub mean_integration_ms: Option<f64>,
    /// Median integration time, ms.
    pub median_integration_ms: Option<u64>,
    /// 95th percentile integration time, ms.
    pub p95_integration_ms: Option<u64>,
}

/// The value at nearest rank ⌈p·n⌉ of `sorted` (`None` when empty).
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[idx])
}

/// Compute the headline KPIs.
pub fn summary(all: &[Integration]) -> Summary {
    let count = |s: IntegrationStatus| all.iter().filter(|i| i.status == s).count();
    let (done, failed) = (
        count(IntegrationStatus::Done),
        count(IntegrationStatus::Failed),
    );
    let mut times: Vec<u64> = all
        .iter()
        .filter(|i| i.status == IntegrationStatus::Done)
        .filter_map(Integration::integration_ms)
        .collect();
    times.sort_unstable();
    let finished = done + failed;
    Summary {
        total: all.len(),
        done,
        failed,
        held: count(IntegrationStatus::Held),
        pending: count(IntegrationStatus::Pending),
        cancelled: count(IntegrationStatus::Cancelled),
        success_rate: (finished > 0).then(|| done as f64 / finished as f64),
        failure_rate: (finished > 0).then(|| failed as f64 / finished as f64),
        mean_integration_ms: (!times.is_empty())
            .then(|| times.iter().sum::<u64>() as f64 / times.len() as f64),
        median_integration_ms: percentile(&times, 0.5),
        p95_integration_ms: percentile(&times, 0.95),
    }
}

/// Time spent held for a person, apart from integration time.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct HeldTime {
    /// Integrations that were held at some point (held now, or with held time recorded).
    pub integrations: usize,
    /// Total time held, ms (an integration held now counts until `now`).
    pub total_ms: u64,
    /// `total_ms` ÷ `integrations`, when any was held.
    pub mean_ms: Option<f64>,
}

/// The time the integrations spent held, counting a current hold up to `now`.
pub fn held_time(all: &[Integration], now: DateTime<Utc>) -> HeldTime {
    let mut integrations = 0usize;
    let mut total_ms = 0u64;
    for i in all {
        let current = i
            .held_since
            .map_or(0, |since| (now - since).num_milliseconds().max(0) as u64);
        let ms = i.held_ms.saturating_add(current);
        if ms > 0 || i.status == IntegrationStatus::Held {
            integrations += 1;
            total_ms = total_ms.saturating_add(ms);
        }
    }
    HeldTime {
        integrations,
        total_ms,
        mean_ms: (integrations > 0).then(|| total_ms as f64 / integrations as f64),
    }
}

/// The step a journal key or audit action names, without its order or item index:
/// `contract:0` → `contract`, `line:1:2` → `line`, `step.server:0` → `server`.
pub fn step_name(key: &str) -> &str {
    let key = key.strip_prefix("step.").unwrap_or(key);
    key.split(':').next().unwrap_or(key)
}

/// Failures at one step.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StepFailures {
    /// The step ([`step_name`] form: `erp_customer`, `contract`, `line`, …).
    pub step: String,
    /// Integrations that ended failed at this step.
    pub failed_integrations: usize,
    /// Failed attempts at this step recorded in the audit trail, retried ones included.
    pub errors: usize,
}

/// Per step: integrations of `all` that ended failed there, and the step errors of `events`
/// that belong to one of `all` (events of other integrations are ignored). Sorted by step.
pub fn failures_per_step(all: &[Integration], events: &[AuditEvent]) -> Vec<StepFailures> {
    let ids: std::collections::BTreeSet<IntegrationId> = all.iter().map(|i| i.id).collect();
    let mut by_step: BTreeMap<String, StepFailures> = BTreeMap::new();
    fn entry<'a>(
        by_step: &'a mut BTreeMap<String, StepFailures>,
        step: &str,
    ) -> &'a mut StepFailures {
        by_step
            .entry(step.to_owned())
            .or_insert_with(|| StepFailures {
                step: step.to_owned(),
                failed_integrations: 0,
                errors: 0,
            })
    }
    for i in all {
        if i.status == IntegrationStatus::Failed {
            let step = i
                .failure
                .as_ref()
                .map(|f| f.step.as_str())
                .or(i.step.as_deref())
                .unwrap_or("unknown");
            entry(&mut by_step, step_name(step)).failed_integrations += 1;
        }
    }
    for e in events {
        if e.outcome == AuditOutcome::Error
            && e.action.starts_with("step.")
            && e.integration.is_some_and(|id| ids.contains(&id))
        {
            entry(&mut by_step, step_name(&e.action)).errors += 1;
        }
    }
    by_step.into_values().collect()
}

/// Integrations received on one business day, by where they stand now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayVolume {
    /// The day, in the business time zone.
    pub day: NaiveDate,
    /// Received that day.
    pub received: usize,
    /// Of those, done.
    pub done: usize,
    /// Of those, failed.
    pub failed: usize,
    /// Of those, held.
    pub held: usize,
    /// Of those, pending.
    pub pending: usize,
    /// Of those, cancelled.
    pub cancelled: usize,
}

/// Integrations per day received (in `tz`, normally [`BUSINESS_TZ`]), oldest day first; days
/// without any are left out.
pub fn volume_per_day(all: &[Integration], tz: Tz) -> Vec<DayVolume> {
    let mut days: BTreeMap<NaiveDate, DayVolume> = BTreeMap::new();
    for i in all {
        let day = i.received_at.with_timezone(&tz).date_naive();
        let v = days.entry(day).or_insert_with(|| DayVolume {
            day,
            received: 0,
            done: 0,
            failed: 0,
            held: 0,
            pending: 0,
            cancelled: 0,
        });
        v.received += 1;
        match i.status {
            IntegrationStatus::Done => v.done += 1,
            IntegrationStatus::Failed => v.failed += 1,
            IntegrationStatus::Held => v.held += 1,
            IntegrationStatus::Pending => v.pending += 1,
            IntegrationStatus::Cancelled => v.cancelled += 1,
        }
    }
    days.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{SourceKey, System};
    use crate::store::{Actor, Failure};
    use chrono::{Duration, TimeZone};

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap() + Duration::milliseconds(ms)
    }

    fn mk(status: IntegrationStatus, received: DateTime<Utc>, ms: i64, held: u64) -> Integration {
        let mut i = Integration::new(
            "c".parse().unwrap(),
            SourceKey {
                account: "a".into(),
                proposal_id: format!("{received}-{ms}-{held}"),
            },
            Actor::System,
            received,
        );
        i.status = status;
        i.finished_at = Some(received + Duration::milliseconds(ms));
        i.held_ms = held;
        i
    }

    #[test]
    fn summary_from_statuses_and_times_leaves_held_time_out() {
        let all = vec![
            mk(IntegrationStatus::Done, at(0), 100, 0),
            mk(IntegrationStatus::Done, at(0), 300, 100),
            mk(IntegrationStatus::Done, at(0), 1000, 0),
            mk(IntegrationStatus::Failed, at(0), 50, 0),
            mk(IntegrationStatus::Held, at(0), 0, 0),
        ];
        let k = summary(&all);
        assert_eq!((k.total, k.done, k.failed, k.held), (5, 3, 1, 1));
        assert_eq!(k.success_rate, Some(0.75));
        assert_eq!(k.failure_rate, Some(0.25));
        assert_eq!(k.mean_integration_ms, Some(1300.0 / 3.0));
        assert_eq!(k.median_integration_ms, Some(200));
        assert_eq!(k.p95_integration_ms, Some(1000));

        let empty = summary(&[]);
        assert_eq!(empty.success_rate, None);
        assert_eq!(empty.median_integration_ms, None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 0.5), Some(10));
        assert_eq!(percentile(&v, 0.95), Some(19));
        assert_eq!(percentile(&v, 1.0), Some(20));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn held_time_counts_past_and_current_holds() {
        let mut now_held = mk(IntegrationStatus::Held, at(0), 0, 500);
        now_held.finished_at = None;
        now_held.held_since = Some(at(1_000));
        let all = vec![
            mk(IntegrationStatus::Done, at(0), 5_000, 2_000),
            now_held,
            mk(IntegrationStatus::Done, at(0), 100, 0),
        ];
        let h = held_time(&all, at(4_000));
        assert_eq!(h.integrations, 2);
        assert_eq!(h.total_ms, 2_000 + 500 + 3_000);
        assert_eq!(h.mean_ms, Some(2_750.0));
        assert_eq!(held_time(&[], at(0)).mean_ms, None);
    }

    #[test]
    fn failures_per_step_joins_final_failures_and_retried_errors() {
        let mut failed = mk(IntegrationStatus::Failed, at(0), 10, 0);
        failed.failure = Some(Failure {
            step: "contract:1".into(),
            system: Some(System::Omie),
            code: None,
            reason: "x".into(),
            retryable: false,
        });
        let ok = mk(IntegrationStatus::Done, at(0), 10, 0);
        let other = mk(IntegrationStatus::Done, at(0), 10, 0);
        let event = |i: &Integration, action: &str, outcome| {
            let mut e = AuditEvent::new(at(5), Actor::System, action, outcome, "s");
            e.integration = Some(i.id);
            e
        };
        let events = vec![
            event(&failed, "step.contract:1", AuditOutcome::Error),
            event(&failed, "step.contract:1", AuditOutcome::Error),
            event(&ok, "step.erp_customer", AuditOutcome::Error),
            event(&ok, "step.erp_customer", AuditOutcome::Ok),
            event(&ok, "failed", AuditOutcome::Error),
            // Not one of the integrations asked about.
            event(&other, "step.line:0:0", AuditOutcome::Error),
        ];
        let f = failures_per_step(&[failed, ok], &events);
        assert_eq!(
            f,
            vec![
                StepFailures {
                    step: "contract".into(),
                    failed_integrations: 1,
                    errors: 2
                },
                StepFailures {
                    step: "erp_customer".into(),
                    failed_integrations: 0,
                    errors: 1
                },
            ]
        );
    }

    #[test]
    fn volume_per_day_uses_the_business_time_zone() {
        // 02:30 UTC on the 25th is still the 24th in São Paulo (UTC-3).
        let late = Utc.with_ymd_and_hms(2026, 11, 25, 2, 30, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2026, 11, 25, 3, 30, 0).unwrap();
        let all = vec![
            mk(IntegrationStatus::Done, late, 10, 0),
            mk(IntegrationStatus::Failed, at(0), 10, 0),
            mk(IntegrationStatus::Held, next, 10, 0),
        ];
        let v = volume_per_day(&all, BUSINESS_TZ);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].day, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_eq!((v[0].received, v[0].done, v[0].failed), (2, 1, 1));
        assert_eq!(v[1].day, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!((v[1].received, v[1].held), (1, 1));
    }

    #[test]
    fn step_names_drop_indexes_and_the_audit_prefix() {
        assert_eq!(step_name("contract:0"), "contract");
        assert_eq!(step_name("line:1:2"), "line");
        assert_eq!(step_name("step.server:0"), "server");
        assert_eq!(step_name("erp_customer"), "erp_customer");
    }
}
