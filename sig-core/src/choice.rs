//! Automatic ServidorNext choice (DESIGN.md, "The first flow", step 5).
//!
//! For one service order: a server is **eligible** when it is active, healthy, serves the
//! order's area code and has room for the order's lines and channels. Among the eligible,
//! the **least utilised** wins — utilisation being the larger of lines used ÷ line capacity
//! and channels used ÷ channel capacity, before the order is added — and ties go to the
//! smaller server id, so the choice is deterministic. Every candidate is kept with the reason
//! it was taken or passed over, for the audit and for people.
//!
//! Utilisations are compared exactly (cross-multiplied integers), never as floats.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::contact::AreaCode;
use crate::ids::ServerId;

/// What one order needs from a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// The order's area code.
    pub area_code: AreaCode,
    /// SIP lines.
    pub lines: u32,
    /// Simultaneous channels.
    pub channels: u32,
}

impl Demand {
    /// What a service order needs.
    pub fn of(order: &crate::domain::ServiceOrder) -> Self {
        Demand {
            area_code: order.area_code,
            lines: order.sip_lines,
            channels: order.channels,
        }
    }
}

/// What SIG knows of one server at choice time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Server id.
    pub id: ServerId,
    /// Whether it takes new services.
    pub active: bool,
    /// Health probe result: `None` healthy, `Some(reason)` unhealthy.
    pub unhealthy: Option<String>,
    /// Whether it serves the order's area code.
    pub serves_area: bool,
    /// Line capacity.
    pub capacity_lines: u32,
    /// Channel capacity.
    pub capacity_channels: u32,
    /// Lines reserved or provisioned there (from the store).
    pub used_lines: u32,
    /// Channels reserved or provisioned there (from the store).
    pub used_channels: u32,
}

/// Why a candidate was taken or passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The winner.
    Chosen,
    /// Eligible, but another was less utilised (or tied with a smaller id).
    MoreUtilised,
    /// Not taking new services.
    Inactive,
    /// Failed its health probe.
    Unhealthy {
        /// The probe's reason.
        reason: String,
    },
    /// Does not serve the order's area code.
    WrongArea,
    /// Not enough free lines or channels.
    NoRoom {
        /// Free lines.
        free_lines: u32,
        /// Free channels.
        free_channels: u32,
    },
}

/// One candidate's line in the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateReport {
    /// Server id.
    pub server: ServerId,
    /// Utilisation before the order, in per-mille (for people; the choice compares exactly).
    pub utilisation_permille: u32,
    /// Taken or why not.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The outcome of a choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The order's demand.
    pub demand: Demand,
    /// The chosen server, if any was eligible.
    pub chosen: Option<ServerId>,
    /// Every candidate, in id order, with its verdict.
    pub candidates: Vec<CandidateReport>,
}

impl Decision {
    /// A one-line human explanation (`sp1: least utilised of 2 eligible (12.5 %)`).
    pub fn explain(&self) -> String {
        match &self.chosen {
            None => {
                let reasons: Vec<String> = self
                    .candidates
                    .iter()
                    .map(|c| format!("{}: {}", c.server, c.verdict.describe()))
                    .collect();
                format!(
                    "no eligible server for area {}: {}",
                    self.demand.area_code,
                    reasons.join("; ")
                )
            }
            Some(id) => {
                let eligible = self
                    .candidates
                    .iter()
                    .filter(|c| matches!(c.verdict, Verdict::Chosen | Verdict::MoreUtilised))
                    .count();
                let u = self
                    .candidates
                    .iter()
                    .find(|c| &c.server == id)
                    .map(|c| c.utilisation_permille)
                    .unwrap_or(0);
                format!(
                    "{id}: least utilised of {eligible} eligible for area {} ({}.{} % used)",
                    self.demand.area_code,
                    u / 10,
                    u % 10
                )
            }
        }
    }
}

impl Verdict {
    /// Human description.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Chosen => "chosen".into(),
            Verdict::MoreUtilised => "eligible, more utilised".into(),
            Verdict::Inactive => "inactive".into(),
            Verdict::Unhealthy { reason } => format!("unhealthy ({reason})"),
            Verdict::WrongArea => "does not serve the area code".into(),
            Verdict::NoRoom {
                free_lines,
                free_channels,
            } => {
                format!("no room ({free_lines} lines and {free_channels} channels free)")
            }
        }
    }
}

/// Utilisation as an exact fraction: max(lines_used/lines_cap, channels_used/channels_cap).
fn utilisation(c: &Candidate) -> (u64, u64) {
    let a = (c.used_lines as u64, c.capacity_lines.max(1) as u64);
    let b = (c.used_channels as u64, c.capacity_channels.max(1) as u64);
    if cmp_frac(a, b) == Ordering::Less {
        b
    } else {
        a
    }
}

fn cmp_frac(a: (u64, u64), b: (u64, u64)) -> Ordering {
    (a.0 as u128 * b.1 as u128).cmp(&(b.0 as u128 * a.1 as u128))
}

/// Choose a server for `demand` among `candidates`.
pub fn choose(demand: Demand, candidates: &[Candidate]) -> Decision {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut reports = Vec::with_capacity(sorted.len());
    let mut best: Option<(usize, (u64, u64))> = None;
    for c in &sorted {
        let u = utilisation(c);
        let permille = ((u.0 * 1000) / u.1).min(u32::MAX as u64) as u32;
        let free_lines = c.capacity_lines.saturating_sub(c.used_lines);
        let free_channels = c.capacity_channels.saturating_sub(c.used_channels);
        let verdict = if !c.active {
            Verdict::Inactive
        } else if let Some(reason) = &c.unhealthy {
            Verdict::Unhealthy {
                reason: reason.clone(),
            }
        } else if !c.serves_area {
            Verdict::WrongArea
        } else if free_lines < demand.lines || free_channels < demand.channels {
            Verdict::NoRoom {
                free_lines,
                free_channels,
            }
        } else {
            let i = reports.len();
            match best {
                Some((_, bu)) if cmp_frac(u, bu) != Ordering::Less => {}
                _ => best = Some((i, u)),
            }
            Verdict::MoreUtilised
        };
        reports.push(CandidateReport {
            server: c.id.clone(),
            utilisation_permille: permille,
            verdict,
        });
    }
    let chosen = best.map(|(i, _)| {
        reports[i].verdict = Verdict::Chosen;
        reports[i].server.clone()
    });
    Decision {
        demand,
        chosen,
        candidates: reports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, used_lines: u32, used_channels: u32) -> Candidate {
        Candidate {
            id: id.parse().unwrap(),
            active: true,
            unhealthy: None,
            serves_area: true,
            capacity_lines: 100,
            capacity_channels: 50,
            used_lines,
            used_channels,
        }
    }

    fn demand(lines: u32, channels: u32) -> Demand {
        Demand {
            area_code: AreaCode::new(11).unwrap(),
            lines,
            channels,
        }
    }

    #[test]
    fn least_utilised_wins_by_the_larger_ratio() {
        // a: lines 50 % channels 10 % → 50 %; b: lines 10 %, channels 40 % → 40 %.
        let d = choose(demand(1, 1), &[cand("a", 50, 5), cand("b", 10, 20)]);
        assert_eq!(d.chosen.unwrap().as_str(), "b");
        assert_eq!(d.candidates[0].verdict, Verdict::MoreUtilised);
        assert_eq!(d.candidates[0].utilisation_permille, 500);
        assert_eq!(d.candidates[1].utilisation_permille, 400);
    }

    #[test]
    fn ties_go_to_the_smaller_id_whatever_the_input_order() {
        let d1 = choose(demand(1, 1), &[cand("zz", 10, 5), cand("aa", 10, 5)]);
        let d2 = choose(demand(1, 1), &[cand("aa", 10, 5), cand("zz", 10, 5)]);
        assert_eq!(d1.chosen.as_ref().unwrap().as_str(), "aa");
        assert_eq!(d1, d2);
    }

    #[test]
    fn every_reason_to_pass_over_is_recorded() {
        let mut inactive = cand("a", 0, 0);
        inactive.active = false;
        let mut sick = cand("b", 0, 0);
        sick.unhealthy = Some("timeout after 2s".into());
        let mut elsewhere = cand("c", 0, 0);
        elsewhere.serves_area = false;
        let full = cand("d", 99, 10);
        let d = choose(demand(2, 2), &[inactive, sick, elsewhere, full]);
        assert_eq!(d.chosen, None);
        let verdicts: Vec<&Verdict> = d.candidates.iter().map(|c| &c.verdict).collect();
        assert_eq!(
            verdicts,
            vec![
                &Verdict::Inactive,
                &Verdict::Unhealthy {
                    reason: "timeout after 2s".into()
                },
                &Verdict::WrongArea,
                &Verdict::NoRoom {
                    free_lines: 1,
                    free_channels: 40
                },
            ]
        );
        assert!(
            d.explain().contains("no eligible server"),
            "{}",
            d.explain()
        );
    }

    #[test]
    fn exactly_full_fits_and_one_more_does_not() {
        let d = choose(demand(10, 5), &[cand("a", 90, 45)]);
        assert_eq!(d.chosen.unwrap().as_str(), "a");
        let d = choose(demand(11, 5), &[cand("a", 90, 45)]);
        assert_eq!(d.chosen, None);
    }

    #[test]
    fn exact_comparison_where_floats_would_round() {
        // 1/3 vs 333333/1000000: 1/3 is larger; floats agree here but the cross product is
        // exact for any capacities.
        let mut a = cand("a", 1, 0);
        a.capacity_lines = 3;
        let mut b = cand("b", 333_333, 0);
        b.capacity_lines = 1_000_000;
        let d = choose(demand(1, 1), &[a, b]);
        assert_eq!(d.chosen.unwrap().as_str(), "b");
    }
}
