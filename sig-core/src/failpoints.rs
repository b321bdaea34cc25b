//! Failpoints between each upstream effect and its journal write (cargo feature
//! `failpoints`, off in release builds).
//!
//! The pipeline evaluates a failpoint named in [`NAMES`] right after an upstream call
//! succeeded and before the step's journal write, so a crash test can kill the process exactly
//! where a lost journal write would otherwise duplicate the effect. Just before it evaluates
//! one, the pipeline records on the current thread **what the effect was** (integration,
//! step, system, record kind, SIG's natural key, the upstream id); a callback registered with
//! [`fail::cfg_callback`] runs on that same thread with no `await` in between, so it reads
//! the effect with [`context`] — a crash test prints it and the test checks that the upstream
//! record exists while the journal does not have it.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

/// Every failpoint of the pipeline, in step order.
pub const NAMES: [&str; 5] = [
    "after_erp_customer",
    "after_contract",
    "after_next_customer",
    "after_line",
    "after_did",
];

/// The upstream effect a failpoint sits behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// The failpoint.
    pub failpoint: String,
    /// The integration.
    pub integration: String,
    /// The journal key the effect is written under once the failpoint passes.
    pub step: String,
    /// The upstream system (`omie`, `nextbilling`).
    pub system: String,
    /// The ServidorNext, for NextBilling effects.
    pub server: Option<String>,
    /// The record kind as the sandboxes count it (`customer`, `contract`, `line`, `did`).
    pub kind: String,
    /// SIG's natural key for the record (the id SIG minted).
    pub key: String,
    /// The upstream system's id for the record.
    pub upstream_id: i64,
}

thread_local! {
    static CONTEXT: RefCell<Option<Effect>> = const { RefCell::new(None) };
}

/// Record the effect the next failpoint on this thread sits behind.
pub fn set_context(effect: Effect) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(effect));
}

/// The effect behind the failpoint being evaluated on this thread.
pub fn context() -> Option<Effect> {
    CONTEXT.with(|c| c.borrow().clone())
}
