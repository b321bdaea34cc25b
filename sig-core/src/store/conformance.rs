//! The behaviour every [`Store`] must have, as one suite that store crates run against their
//! implementation (`sig_core::store::conformance::run_all(store_factory)`), so the in-memory,
//! SQLite and PostgreSQL stores are held to the same rules. Failures panic with a message
//! naming the rule, as test assertions do.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::ids::{CompanyId, CustomerId, IntegrationId, ServiceOrderId};
use crate::problem::Code;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("valid time")
}

fn company() -> CompanyId {
    "acme".parse().expect("valid id")
}

fn key(n: usize) -> SourceKey {
    SourceKey {
        account: "acme".into(),
        proposal_id: format!("p{n}"),
    }
}

fn new_integration(n: usize, at: DateTime<Utc>) -> Integration {
    Integration::new(company(), key(n), Actor::Webhook("acme".into()), at)
}

fn intake_event(at: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(
        at,
        Actor::Webhook("acme".into()),
        "intake",
        AuditOutcome::Ok,
        "received",
    )
}

fn step(key: &str, at: DateTime<Utc>) -> StepEntry {
    StepEntry {
        key: key.into(),
        result: serde_json::json!({"k": key}),
        at,
        duration_ms: 5,
    }
}

/// Run every check, each on a fresh store from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    intake_is_idempotent_by_source_key(make().await).await;
    integration_round_trips(make().await).await;
    customer_registry_is_get_or_insert(make().await).await;
    reservations_are_atomic(make().await).await;
    a_commit_reserves_with_its_step_or_stores_nothing(make().await).await;
    commit_is_one_transaction(make().await).await;
    a_commit_registers_its_customer_or_stores_nothing(make().await).await;
    claims_lease_work(make().await).await;
    a_lease_by_id_keeps_workers_away(make().await).await;
    list_filters(make().await).await;
    limit_state_and_audit(make().await).await;
    counts_match_the_integrations(make().await).await;
    direct_registration_is_atomic(make().await).await;
    a_customer_is_shared_by_its_other_integrations(make().await).await;
    concurrent_commits_succeed_or_fail_alone(make().await).await;
}

/// Many commits at once (a store may group them into one transaction): each succeeds or
/// fails on its own — a repeated step is refused and leaves nothing, the others all land.
pub async fn concurrent_commits_succeed_or_fail_alone(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for n in 0..24 {
        let (i, _) = store
            .intake(new_integration(n, t(n as i64)), intake_event(t(0)))
            .await
            .expect("intake");
        ids.push(i);
    }
    // Each integration gets `fetch` once; every third also gets a second, refused `fetch`.
    let step = |i: &Integration, n: u32| {
        let mut i = i.clone();
        i.step = Some("fetch".into());
        i.attempts = n;
        let mut c = Change::state(i.clone());
        c.steps.push(StepEntry {
            key: "fetch".into(),
            result: serde_json::json!({"n": n}),
            at: t(1000),
            duration_ms: 1,
        });
        let mut e = AuditEvent::new(t(1000), Actor::System, "step.fetch", AuditOutcome::Ok, "ok");
        e.integration = Some(i.id);
        c.audit.push(e);
        c
    };
    for i in &ids {
        store.commit(step(i, 1)).await.expect("first fetch");
    }
    let mut tasks = Vec::new();
    for (n, i) in ids.iter().enumerate() {
        let s = store.clone();
        let repeat = n % 3 == 0;
        let mut good = i.clone();
        good.step = Some("validate".into());
        let mut c = Change::state(good);
        c.steps.push(StepEntry {
            key: "validate".into(),
            result: serde_json::json!({"ok": true}),
            at: t(2000),
            duration_ms: 1,
        });
        let bad = step(i, 2);
        tasks.push(tokio::spawn(async move {
            let ok = s.commit(c).await;
            let refused = if repeat {
                Some(s.commit(bad).await)
            } else {
                None
            };
            (ok, refused)
        }));
    }
    for t in tasks {
        let (ok, refused) = t.await.expect("task");
        ok.expect("a good commit lands whatever else is committed with it");
        if let Some(r) = refused {
            assert!(
                matches!(r, Err(StoreError::StepExists { .. })),
                "a repeated step is refused: {r:?}"
            );
        }
    }
    for i in &ids {
        let j = store.journal(i.id).await.expect("journal");
        assert_eq!(j.len(), 2, "fetch and validate, nothing else: {j:?}");
        assert_eq!(
            j["fetch"].result,
            serde_json::json!({"n": 1}),
            "the first fetch stays"
        );
        let got = store.get(i.id).await.expect("get").expect("exists");
        assert_eq!(
            got.step.as_deref(),
            Some("validate"),
            "a refused change leaves no state"
        );
        assert_eq!(
            got.attempts, 0,
            "the refused change's attempts are not kept"
        );
    }
    let fetch_events = store
        .audit(&AuditFilter {
            action_prefix: Some("step.fetch".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        fetch_events.len(),
        ids.len(),
        "no audit event of a refused change"
    );
}

/// Concurrent intakes of one source key create one integration.
pub async fn intake_is_idempotent_by_source_key(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.intake(new_integration(1, t(0)), intake_event(t(0))).await
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let (i, c) = task.await.expect("task").expect("intake");
        created += c as usize;
        ids.insert(i.id);
    }
    assert_eq!(created, 1, "exactly one intake creates the integration");
    assert_eq!(ids.len(), 1, "every intake returns the same integration");
    let found = store
        .find_by_source(&key(1))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(Some(&found.id), ids.iter().next());
    let (_, c) = store
        .intake(new_integration(2, t(1)), intake_event(t(1)))
        .await
        .expect("intake");
    assert!(c, "another source key is another integration");
    let audit = store.audit(&AuditFilter::default()).await.expect("audit");
    assert_eq!(
        audit.len(),
        2,
        "the intake audit event is written only when created"
    );
    assert!(
        audit.iter().all(|e| e.integration.is_some()),
        "intake events name their integration"
    );
}

/// Everything an integration holds comes back as written.
pub async fn integration_round_trips(store: Arc<dyn Store>) {
    let (mut i, _) = store
        .intake(new_integration(1, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    i.status = IntegrationStatus::Held;
    i.raw = Some(RawProposal {
        id: Some("p1".into()),
        ..Default::default()
    });
    let mut problems = Problems::new();
    problems.add("customer.tax_id", Code::InvalidCheckDigit, "bad");
    i.problems = problems;
    i.failure = Some(Failure {
        step: "erp_customer".into(),
        system: Some(System::Omie),
        code: Some("SOAP-ENV:Client-8".into()),
        reason: "x".into(),
        retryable: false,
    });
    i.customer = Some(CustomerId::new());
    i.attempts = 3;
    i.held_since = Some(t(5));
    i.held_ms = 1234;
    i.step = Some("validate".into());
    store
        .commit(Change::state(i.clone()))
        .await
        .expect("commit");
    let back = store.get(i.id).await.expect("get").expect("exists");
    assert_eq!(back, i, "an integration round-trips through the store");

    // A change that keeps the document writes the rest of the state and leaves the stored
    // document alone, though it carries none.
    i.attempts = 4;
    i.step = Some("contract:0".into());
    let change = Change::state_keeping_raw(&mut i);
    assert!(change.keep_raw && change.integration.raw.is_none());
    assert!(i.raw.is_some(), "the caller's state keeps its document");
    store
        .commit(change)
        .await
        .expect("commit keeping the document");
    let back = store.get(i.id).await.expect("get").expect("exists");
    assert_eq!(back, i, "the new state with the stored document");

    // Without `keep_raw`, the document the change carries is what is stored.
    i.raw = Some(RawProposal {
        id: Some("p1-edited".into()),
        ..Default::default()
    });
    store
        .commit(Change::state(i.clone()))
        .await
        .expect("commit");
    let back = store.get(i.id).await.expect("get").expect("exists");
    assert_eq!(
        back.raw, i.raw,
        "a changed document replaces the stored one"
    );
}

/// One SIG customer per (company, tax id), even under concurrency.
pub async fn customer_registry_is_get_or_insert(store: Arc<dyn Store>) {
    let tax: TaxId = "52998224725".parse().expect("valid CPF");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        let c = company();
        tasks.push(tokio::spawn(async move {
            s.customer_id_for(&c, &tax, CustomerId::new()).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task").expect("customer_id_for"));
    }
    assert_eq!(ids.len(), 1, "one customer per tax id");
    let other: CompanyId = "other".parse().expect("id");
    let id2 = store
        .customer_id_for(&other, &tax, CustomerId::new())
        .await
        .expect("other company");
    assert!(!ids.contains(&id2), "another company has its own customer");
    let links = store.customer_links(id2).await.expect("links");
    assert_eq!(links, CustomerLinks::default());
}

/// `customer_shared` sees every other integration of the customer, whatever its status, and
/// never the one asking.
pub async fn a_customer_is_shared_by_its_other_integrations(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for n in 1..=3 {
        let (i, _) = store
            .intake(new_integration(n, t(0)), intake_event(t(0)))
            .await
            .expect("intake");
        ids.push(i);
    }
    let (cust, other) = (CustomerId::new(), CustomerId::new());
    let shared = |c: CustomerId, besides: usize| {
        let (store, id) = (store.clone(), ids[besides].id);
        async move { store.customer_shared(c, id).await.expect("customer_shared") }
    };
    assert!(
        !shared(cust, 0).await,
        "no integration is of the customer yet"
    );
    let with = |n: usize, c: CustomerId, status: IntegrationStatus| {
        let mut i = ids[n].clone();
        i.customer = Some(c);
        i.status = status;
        i
    };
    let first = with(0, cust, IntegrationStatus::Pending);
    store.commit(Change::state(first)).await.expect("commit");
    assert!(
        !shared(cust, 0).await,
        "the asking integration is not counted"
    );
    assert!(
        shared(cust, 1).await,
        "the first one is another integration of it"
    );
    let failed = with(1, cust, IntegrationStatus::Failed);
    store.commit(Change::state(failed)).await.expect("commit");
    assert!(shared(cust, 0).await, "a failed one counts too");
    let elsewhere = with(2, other, IntegrationStatus::Pending);
    store
        .commit(Change::state(elsewhere))
        .await
        .expect("commit");
    assert!(
        !shared(other, 2).await,
        "another customer's integrations do not count"
    );
    assert!(shared(cust, 2).await);

    // A customer linked on NextBilling servers only (its ERP customer not yet).
    let mut change = Change::state(with(2, other, IntegrationStatus::Pending));
    let (sp1, rj1): (ServerId, ServerId) = ("sp1".parse().expect("id"), "rj1".parse().expect("id"));
    change.customer_voip = vec![(other, sp1.clone(), 5), (other, rj1.clone(), 6)];
    store.commit(change).await.expect("commit");
    assert_eq!(
        store.customer_links(other).await.expect("links"),
        CustomerLinks {
            erp_id: None,
            voip: BTreeMap::from([(sp1, 5), (rj1, 6)]),
        }
    );
    assert_eq!(
        store.customer_links(cust).await.expect("links"),
        CustomerLinks::default()
    );
}

/// Two orders cannot take the same last room; reserving twice is a no-op.
pub async fn reservations_are_atomic(store: Arc<dyn Store>) {
    let (i, _) = store
        .intake(new_integration(1, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    let server: ServerId = "sp1".parse().expect("id");
    let cap = Load {
        lines: 10,
        channels: 100,
    };
    let mut tasks = Vec::new();
    let mut orders = Vec::new();
    for _ in 0..25 {
        let order = ServiceOrderId::new();
        orders.push(order);
        let r = Reservation {
            order,
            integration: i.id,
            server: server.clone(),
            lines: 1,
            channels: 2,
            provisioned: false,
        };
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.reserve(&r, cap).await }));
    }
    let mut won = Vec::new();
    for (task, order) in tasks.into_iter().zip(&orders) {
        if task.await.expect("task").expect("reserve") {
            won.push(*order);
        }
    }
    assert_eq!(won.len(), 10, "exactly the capacity is reserved");
    let loads = store.loads().await.expect("loads");
    assert_eq!(
        loads.get(&server),
        Some(&Load {
            lines: 10,
            channels: 20
        })
    );
    let again = Reservation {
        order: won[0],
        integration: i.id,
        server: server.clone(),
        lines: 1,
        channels: 2,
        provisioned: false,
    };
    assert!(
        store.reserve(&again, cap).await.expect("re-reserve"),
        "reserving again for the same order holds"
    );
    assert_eq!(
        store.loads().await.expect("loads").get(&server),
        Some(&Load {
            lines: 10,
            channels: 20
        })
    );
    // Releasing and provisioning go through commit.
    let mut change = Change::state(store.get(i.id).await.expect("get").expect("exists"));
    change.released = vec![won[0]];
    change.provisioned = vec![won[1]];
    store.commit(change).await.expect("commit");
    assert_eq!(store.reservation(won[0]).await.expect("r"), None);
    assert!(
        store
            .reservation(won[1])
            .await
            .expect("r")
            .expect("kept")
            .provisioned
    );
    let late = Reservation {
        order: orders[24],
        integration: i.id,
        server,
        lines: 1,
        channels: 2,
        provisioned: false,
    };
    let fits = store.reserve(&late, cap).await.expect("reserve");
    assert!(
        fits || won.contains(&orders[24]),
        "released room can be taken again"
    );
}

/// A change that carries a reservation takes the room with its step, concurrently as
/// atomically as `reserve`; without room it is refused whole (no journal entry, no audit, no
/// state) with `NoRoom`.
pub async fn a_commit_reserves_with_its_step_or_stores_nothing(store: Arc<dyn Store>) {
    let server: ServerId = "rj1".parse().expect("id");
    let cap = Load {
        lines: 4,
        channels: 8,
    };
    let mut tasks = Vec::new();
    for n in 0..10 {
        let (i, _) = store
            .intake(new_integration(n, t(0)), intake_event(t(0)))
            .await
            .expect("intake");
        let order = ServiceOrderId::new();
        let mut state = i.clone();
        state.step = Some("server:0".into());
        let mut change = Change::state(state);
        change.steps.push(StepEntry {
            key: "server:0".into(),
            result: serde_json::json!({"order": order}),
            at: t(1),
            duration_ms: 1,
        });
        let mut e = AuditEvent::new(t(1), Actor::System, "step.server:0", AuditOutcome::Ok, "x");
        e.integration = Some(i.id);
        change.audit.push(e);
        change.reserve = vec![(
            Reservation {
                order,
                integration: i.id,
                server: server.clone(),
                lines: 1,
                channels: 2,
                provisioned: false,
            },
            cap,
        )];
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            (i.id, order, s.commit(change).await)
        }));
    }
    let mut won = 0;
    for task in tasks {
        let (id, order, r) = task.await.expect("task");
        let journal = store.journal(id).await.expect("journal");
        let audit = store
            .audit(&AuditFilter {
                integration: Some(id),
                ..Default::default()
            })
            .await
            .expect("audit");
        let stepped = audit.iter().any(|e| e.action == "step.server:0");
        match r {
            Ok(()) => {
                won += 1;
                assert!(journal.contains_key("server:0") && stepped);
                assert_eq!(
                    store
                        .reservation(order)
                        .await
                        .expect("reservation")
                        .map(|r| r.server),
                    Some(server.clone())
                );
            }
            Err(StoreError::NoRoom {
                order: o,
                server: s,
            }) => {
                assert_eq!((o, &s), (order, &server));
                assert!(
                    journal.is_empty() && !stepped,
                    "a refused change stores nothing"
                );
                assert_eq!(store.reservation(order).await.expect("reservation"), None);
                let state = store.get(id).await.expect("get").expect("exists");
                assert_eq!(state.step, None, "the state is not written either");
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 4, "exactly the capacity is taken");
    assert_eq!(
        store.loads().await.expect("loads").get(&server),
        Some(&Load {
            lines: 4,
            channels: 8
        })
    );

    // Several reservations in one change: all of them, or (one server full) none.
    let (i, _) = store
        .intake(new_integration(10, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    let other: ServerId = "sp1".parse().expect("id");
    let on = |server: &ServerId| {
        (
            Reservation {
                order: ServiceOrderId::new(),
                integration: i.id,
                server: server.clone(),
                lines: 1,
                channels: 2,
                provisioned: false,
            },
            cap,
        )
    };
    let both = |reserve: Vec<(Reservation, Load)>| {
        let mut change = Change::state(i.clone());
        change.reserve = reserve;
        change
    };
    let (room, full) = (on(&other), on(&server));
    match store.commit(both(vec![room.clone(), full.clone()])).await {
        Err(StoreError::NoRoom { order, server: s }) => {
            assert_eq!(
                (order, &s),
                (full.0.order, &server),
                "the full one is named"
            );
        }
        r => panic!("a change with a reservation that has no room must be refused, got {r:?}"),
    }
    assert_eq!(
        store.reservation(room.0.order).await.expect("reservation"),
        None,
        "the reservation that had room is not kept either"
    );
    assert_eq!(store.loads().await.expect("loads").get(&other), None);
    let second = on(&other);
    store
        .commit(both(vec![room.clone(), second.clone()]))
        .await
        .expect("both have room");
    for (r, _) in [room, second] {
        assert_eq!(
            store.reservation(r.order).await.expect("reservation"),
            Some(r)
        );
    }
    assert_eq!(
        store.loads().await.expect("loads").get(&other),
        Some(&Load {
            lines: 2,
            channels: 4
        })
    );
}

/// A commit that registers a customer registers it with its steps; when the tax id has
/// another customer by then, the commit is refused whole, naming that customer.
pub async fn a_commit_registers_its_customer_or_stores_nothing(store: Arc<dyn Store>) {
    let tax_id: TaxId = "52998224725".parse().expect("cpf");
    let mut ids = Vec::new();
    for n in 0..2 {
        let (i, _) = store
            .intake(new_integration(n, t(0)), intake_event(t(0)))
            .await
            .expect("intake");
        ids.push(i);
    }
    let validated = |i: &Integration, customer: CustomerId| {
        let mut next = i.clone();
        next.step = Some("customer".into());
        next.customer = Some(customer);
        let mut change = Change::state(next);
        change.steps = vec![step("validate", t(1)), step("customer", t(1))];
        change.register_customer = Some(NewCustomer {
            company: company(),
            tax_id,
            customer,
        });
        change.audit = vec![AuditEvent::new(
            t(1),
            Actor::System,
            "step.customer",
            AuditOutcome::Ok,
            "ok",
        )];
        change
    };
    let first = CustomerId::new();
    store
        .commit(validated(&ids[0], first))
        .await
        .expect("registers");
    assert_eq!(
        store
            .find_customer(&company(), &tax_id)
            .await
            .expect("find"),
        Some(first)
    );
    // The same registration again changes nothing (a commit made again with its customer).
    let (third, _) = store
        .intake(new_integration(2, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    store
        .commit(validated(&third, first))
        .await
        .expect("the customer the tax id has");

    // Another customer for the same tax id: refused, and nothing of the change is stored.
    let audit_before = store.audit(&AuditFilter::default()).await.expect("audit");
    match store.commit(validated(&ids[1], CustomerId::new())).await {
        Err(StoreError::CustomerRegistered { customer }) => assert_eq!(customer, first),
        other => panic!("expected CustomerRegistered, got {other:?}"),
    }
    assert!(store.journal(ids[1].id).await.expect("journal").is_empty());
    let after = store.get(ids[1].id).await.expect("get").expect("there");
    assert_eq!(after.customer, None);
    assert_eq!(after.step, ids[1].step);
    assert_eq!(
        store.audit(&AuditFilter::default()).await.expect("audit"),
        audit_before
    );
    assert_eq!(
        store
            .find_customer(&company(), &tax_id)
            .await
            .expect("find"),
        Some(first)
    );
    // The error names no tax id (personal data).
    let e = StoreError::CustomerRegistered { customer: first };
    assert!(!e.to_string().contains("52998224725"), "{e}");
    // Made again with that customer, it lands.
    store
        .commit(validated(&ids[1], first))
        .await
        .expect("with the registered customer");
    assert_eq!(store.journal(ids[1].id).await.expect("journal").len(), 2);
}

/// A commit writes state, journal, links, reservation changes and audit together, or nothing.
pub async fn commit_is_one_transaction(store: Arc<dyn Store>) {
    let (i, _) = store
        .intake(new_integration(1, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    let cust = store
        .customer_id_for(
            &company(),
            &"52998224725".parse().expect("cpf"),
            CustomerId::new(),
        )
        .await
        .expect("c");
    let server: ServerId = "sp1".parse().expect("id");
    let mut next = i.clone();
    next.step = Some("erp_customer".into());
    next.customer = Some(cust);
    let mut change = Change::state(next.clone());
    change.steps = vec![step("validate", t(1)), step("erp_customer", t(2))];
    change.customer_erp = Some((cust, 4242));
    change.customer_voip = vec![(cust, server.clone(), 77)];
    change.audit = vec![AuditEvent::new(
        t(2),
        Actor::System,
        "step.erp_customer",
        AuditOutcome::Ok,
        "ok",
    )];
    store.commit(change).await.expect("commit");
    let j = store.journal(i.id).await.expect("journal");
    assert_eq!(
        j.keys().cloned().collect::<Vec<_>>(),
        vec!["erp_customer".to_owned(), "validate".to_owned()]
    );
    assert_eq!(j["validate"], step("validate", t(1)));
    let links = store.customer_links(cust).await.expect("links");
    assert_eq!(links.erp_id, Some(4242));
    assert_eq!(links.voip, BTreeMap::from([(server.clone(), 77)]));

    // A change that repeats a journaled step fails as a whole.
    let mut bad_state = next.clone();
    bad_state.step = Some("contract:0".into());
    let mut bad = Change::state(bad_state);
    bad.steps = vec![step("contract:0", t(3)), step("validate", t(3))];
    bad.customer_erp = Some((cust, 9999));
    bad.audit = vec![AuditEvent::new(
        t(3),
        Actor::System,
        "step.contract",
        AuditOutcome::Ok,
        "ok",
    )];
    match store.commit(bad).await {
        Err(StoreError::StepExists { step, .. }) => assert_eq!(step, "validate"),
        other => panic!("a repeated step must be refused, got {other:?}"),
    }
    assert_eq!(
        store.journal(i.id).await.expect("journal").len(),
        2,
        "no partial journal write"
    );
    assert_eq!(
        store.customer_links(cust).await.expect("links").erp_id,
        Some(4242),
        "no partial link write"
    );
    assert_eq!(
        store
            .get(i.id)
            .await
            .expect("get")
            .expect("i")
            .step
            .as_deref(),
        Some("erp_customer")
    );
    let audit = store
        .audit(&AuditFilter {
            action_prefix: Some("step.".into()),
            ..Default::default()
        })
        .await
        .expect("a");
    assert_eq!(audit.len(), 1, "no partial audit write");
}

/// Claims hand out due pending work once per lease.
pub async fn claims_lease_work(store: Arc<dyn Store>) {
    let (a, _) = store
        .intake(new_integration(1, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    let (b, _) = store
        .intake(new_integration(2, t(1)), intake_event(t(1)))
        .await
        .expect("intake");
    let (c, _) = store
        .intake(new_integration(3, t(2)), intake_event(t(2)))
        .await
        .expect("intake");
    let mut later = b.clone();
    later.next_attempt_at = t(100);
    store.commit(Change::state(later)).await.expect("commit");
    let mut held = c.clone();
    held.status = IntegrationStatus::Held;
    store.commit(Change::state(held)).await.expect("commit");

    let got = store
        .claim(t(10), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(
        got.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![a.id],
        "only due pending work"
    );
    assert!(
        store
            .claim(t(11), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let again = store
        .claim(t(41), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1, "an expired lease comes back");
    store.unclaim(a.id).await.expect("unclaim");
    assert_eq!(
        store
            .claim(t(42), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .len(),
        1,
        "unclaimed"
    );
    let at_100 = store
        .claim(t(200), Duration::from_secs(30), 1)
        .await
        .expect("claim");
    assert_eq!(at_100.len(), 1, "max is respected");
    assert_eq!(at_100[0].id, a.id, "oldest due first");

    // Renewal: a running worker's heartbeat keeps its lease; a given-back one stays free.
    let claimed = store
        .claim(t(300), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2, "a and b are due, c is held");
    store
        .renew_leases(&[a.id, b.id, c.id], t(400))
        .await
        .expect("renew");
    assert!(
        store
            .claim(t(350), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "renewed leases hold past their first expiry"
    );
    let back = store
        .claim(t(401), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(
        back.len(),
        2,
        "renewed leases end at the new time: {back:?}"
    );
    store.unclaim(a.id).await.expect("unclaim");
    store.renew_leases(&[a.id], t(1000)).await.expect("renew");
    let free = store
        .claim(t(402), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(
        free.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![a.id],
        "a renewal does not lease what was given back"
    );
    let mut held = b.clone();
    held.status = IntegrationStatus::Held;
    store.commit(Change::state(held)).await.expect("commit");
    store
        .renew_leases(&[], t(2000))
        .await
        .expect("renew nothing");
}

/// A lease by id (a person's operation) and a worker's claim exclude each other; it works on
/// any status, survives a commit that leaves the integration pending, and expires.
pub async fn a_lease_by_id_keeps_workers_away(store: Arc<dyn Store>) {
    let (a, _) = store
        .intake(new_integration(1, t(0)), intake_event(t(0)))
        .await
        .expect("intake");
    let lease = Duration::from_secs(30);
    let got = store.lease(a.id, t(1), lease).await.expect("lease");
    assert_eq!(
        got.map(|i| i.id),
        Some(a.id),
        "a free integration is leased"
    );
    assert!(
        store
            .claim(t(2), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a worker does not claim a leased integration"
    );
    assert!(
        store
            .lease(a.id, t(3), lease)
            .await
            .expect("lease")
            .is_none(),
        "a second lease is refused while the first holds"
    );
    let mut edited = a.clone();
    edited.attempts = 0;
    store.commit(Change::state(edited)).await.expect("commit");
    assert!(
        store
            .claim(t(4), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a commit that leaves it pending keeps the lease"
    );
    store.unclaim(a.id).await.expect("unclaim");
    let claimed = store.claim(t(5), lease, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1, "released, a worker claims it");
    assert!(
        store
            .lease(a.id, t(6), lease)
            .await
            .expect("lease")
            .is_none(),
        "a person cannot lease what a worker holds"
    );
    assert!(
        store
            .lease(a.id, t(36), lease)
            .await
            .expect("lease")
            .is_some(),
        "an expired claim no longer holds"
    );
    let mut held = a.clone();
    held.status = IntegrationStatus::Held;
    store.commit(Change::state(held)).await.expect("commit");
    let got = store.lease(a.id, t(37), lease).await.expect("lease");
    assert_eq!(
        got.map(|i| i.status),
        Some(IntegrationStatus::Held),
        "leaving pending ended the lease; a held integration can be leased"
    );
    store.unclaim(a.id).await.expect("unclaim");
    match store.lease(IntegrationId::new(), t(38), lease).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("leasing an unknown integration: {other:?}"),
    }
}

/// Filters select by status, time, company, newest first with a limit.
pub async fn list_filters(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for n in 0..5 {
        let (i, _) = store
            .intake(new_integration(n, t(n as i64 * 10)), intake_event(t(0)))
            .await
            .expect("intake");
        ids.push(i);
    }
    let mut done = ids[1].clone();
    done.status = IntegrationStatus::Done;
    done.finished_at = Some(t(15));
    store.commit(Change::state(done)).await.expect("commit");
    let all = store
        .list(&IntegrationFilter::default())
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids.iter().map(|i| i.id).collect::<Vec<_>>()
    );
    let d = store
        .list(&IntegrationFilter {
            statuses: vec![IntegrationStatus::Done],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].integration_ms(), Some(5_000));
    let window = store
        .list(&IntegrationFilter {
            since: Some(t(10)),
            until: Some(t(30)),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(window.len(), 2);
    let newest = store
        .list(&IntegrationFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        newest.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[4].id, ids[3].id]
    );
    let none = store
        .list(&IntegrationFilter {
            company: Some("other".parse().expect("id")),
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}

/// Limit state survives and the audit trail filters.
pub async fn limit_state_and_audit(store: Arc<dyn Store>) {
    assert_eq!(store.limit_state("omie:acme").await.expect("get"), None);
    let v = serde_json::json!({"blocked_until_ms": 123, "reason": "misuse"});
    store.set_limit_state("omie:acme", &v).await.expect("set");
    store
        .set_limit_state("omie:acme", &v)
        .await
        .expect("set twice");
    assert_eq!(store.limit_state("omie:acme").await.expect("get"), Some(v));
    let ana = Actor::User("ana".parse().expect("id"));
    let mut e1 = AuditEvent::new(
        t(1),
        ana.clone(),
        "edit",
        AuditOutcome::Denied,
        "field plan",
    );
    e1.details = serde_json::json!({"field": "orders[0].product"});
    let e2 = AuditEvent::new(
        t(2),
        Actor::System,
        "step.contract:0",
        AuditOutcome::Ok,
        "ok",
    );
    store
        .append_audit(&[e1.clone(), e2.clone()])
        .await
        .expect("append");
    let by_user = store
        .audit(&AuditFilter {
            actor: Some(ana),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(by_user, vec![e1.clone()]);
    let steps = store
        .audit(&AuditFilter {
            action_prefix: Some("step.".into()),
            ..Default::default()
        })
        .await
        .expect("a");
    assert_eq!(steps, vec![e2.clone()]);
    // Filters on the system, on a prefix some step actions start with, and on one no step
    // action starts with (a store may index these differently; the answers are the same).
    let by_system = store
        .audit(&AuditFilter {
            actor: Some(Actor::System),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(by_system, vec![e2.clone()]);
    for (prefix, want) in [
        ("s", vec![e2.clone()]),
        ("step", vec![e2.clone()]),
        ("step.contract:0", vec![e2.clone()]),
        ("e", vec![e1.clone()]),
        ("edit", vec![e1.clone()]),
        ("edits", vec![]),
        ("", vec![e1.clone(), e2.clone()]),
    ] {
        let got = store
            .audit(&AuditFilter {
                action_prefix: Some(prefix.into()),
                ..Default::default()
            })
            .await
            .expect("audit");
        assert_eq!(got, want, "action prefix {prefix:?}");
    }
    let late = store
        .audit(&AuditFilter {
            since: Some(t(2)),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(late, vec![e2]);
}

/// [`Store::counts`] counts each status and finds the oldest pending integration.
pub async fn counts_match_the_integrations(store: Arc<dyn Store>) {
    assert_eq!(
        store.counts().await.expect("counts"),
        IntegrationCounts::default(),
        "an empty store counts nothing"
    );
    let mut ids = Vec::new();
    for n in 0..6 {
        let (i, _) = store
            .intake(
                new_integration(n, t(100 - n as i64 * 10)),
                intake_event(t(0)),
            )
            .await
            .expect("intake");
        ids.push(i);
    }
    for (n, status) in [
        (0, IntegrationStatus::Done),
        (1, IntegrationStatus::Done),
        (2, IntegrationStatus::Failed),
        (5, IntegrationStatus::Held),
    ] {
        let mut i = ids[n].clone();
        i.status = status;
        store.commit(Change::state(i)).await.expect("commit");
    }
    let c = store.counts().await.expect("counts");
    assert_eq!(
        (c.pending, c.held, c.done, c.failed, c.cancelled),
        (2, 1, 2, 1, 0),
        "counts per status"
    );
    assert_eq!(c.total(), 6);
    // Pending: n = 3 (received at t(70)) and n = 4 (t(60)); the oldest is t(60).
    assert_eq!(
        c.oldest_pending,
        Some(t(60)),
        "oldest pending by reception time"
    );
    let listed = store
        .list(&IntegrationFilter::default())
        .await
        .expect("list");
    assert_eq!(
        c,
        IntegrationCounts::of(&listed),
        "the same as counting the list"
    );
}

/// A direct registration stores the customer and its integration together, once per tax id;
/// a customer known from another source is left alone; integrations list by customer.
pub async fn direct_registration_is_atomic(store: Arc<dyn Store>) {
    let tax: TaxId = "52998224725".parse().expect("valid CPF");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let candidate = CustomerId::new();
            let mut new =
                Integration::new(company(), SourceKey::direct(candidate), Actor::System, t(0));
            new.customer = Some(candidate);
            s.register_direct(&company(), &tax, candidate, new, intake_event(t(0)))
                .await
        }));
    }
    let mut created = Vec::new();
    let mut existing = std::collections::BTreeSet::new();
    for task in tasks {
        match task.await.expect("task").expect("register_direct") {
            DirectRegistration::Created(i) => created.push(i),
            DirectRegistration::Existing(i) => {
                existing.insert(i.id);
            }
            DirectRegistration::KnownElsewhere(c) => {
                panic!("a concurrent direct registration saw its customer {c} as foreign")
            }
        }
    }
    assert_eq!(created.len(), 1, "exactly one registration creates");
    let first = &created[0];
    assert!(
        existing.iter().all(|id| *id == first.id),
        "every repeat returns the first integration"
    );
    let customer = first.customer.expect("the customer is set");
    assert_eq!(first.source, SourceKey::direct(customer));
    assert_eq!(
        store.find_customer(&company(), &tax).await.expect("find"),
        Some(customer),
        "the customer is stored with its integration"
    );
    assert_eq!(
        store
            .customer_id_for(&company(), &tax, CustomerId::new())
            .await
            .expect("customer_id_for"),
        customer,
        "the pipeline's customer step finds the registered customer"
    );
    let listed = store
        .list(&IntegrationFilter {
            customer: Some(customer),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![first.id]
    );

    // A customer SIG knows from a proposal is not registered again.
    let other: TaxId = "11144477735".parse().expect("valid CPF");
    assert_eq!(
        store.find_customer(&company(), &other).await.expect("find"),
        None
    );
    let known = store
        .customer_id_for(&company(), &other, CustomerId::new())
        .await
        .expect("customer_id_for");
    let candidate = CustomerId::new();
    let new = Integration::new(company(), SourceKey::direct(candidate), Actor::System, t(1));
    let r = store
        .register_direct(&company(), &other, candidate, new, intake_event(t(1)))
        .await
        .expect("register_direct");
    assert_eq!(r, DirectRegistration::KnownElsewhere(known));
    assert!(
        store
            .find_by_source(&SourceKey::direct(candidate))
            .await
            .expect("find")
            .is_none(),
        "nothing is written for a customer known elsewhere"
    );
    let audit = store.audit(&AuditFilter::default()).await.expect("audit");
    assert_eq!(audit.len(), 1, "one audit event, for the one registration");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_conforms() {
        run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
    }
}
