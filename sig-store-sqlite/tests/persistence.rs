//! Everything written comes back after the store is dropped and the file reopened, read-write
//! and read-only; a read-only store refuses every write.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sig_core::ids::{CompanyId, CustomerId, ServerId, ServiceOrderId};
use sig_core::ports::{SourceKey, System};
use sig_core::problem::{Code, Problems};
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, Change, CustomerLinks, Failure, Integration,
    IntegrationFilter, IntegrationStatus, Load, Reservation, StepEntry, Store, StoreError,
};
use sig_core::taxid::TaxId;
use sig_store_sqlite::SqliteStore;

fn t(secs: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, nanos)
        .single()
        .expect("time")
}

fn company() -> CompanyId {
    "acme".parse().expect("company")
}

fn key(n: usize) -> SourceKey {
    SourceKey {
        account: "acme".into(),
        proposal_id: format!("p{n}"),
    }
}

/// What was written, to compare with what is read back.
struct Written {
    integrations: Vec<Integration>,
    journal: BTreeMap<String, StepEntry>,
    customer: CustomerId,
    tax: TaxId,
    links: CustomerLinks,
    reservations: Vec<Reservation>,
    loads: BTreeMap<ServerId, Load>,
    limit: serde_json::Value,
    audit: Vec<AuditEvent>,
}

async fn write_everything(store: &dyn Store) -> Written {
    let sp1: ServerId = "sp1".parse().expect("server");
    let rj1: ServerId = "rj1".parse().expect("server");
    let mut intake_events = Vec::new();
    let mut integrations = Vec::new();
    for n in 0..3 {
        let new = Integration::new(
            company(),
            key(n),
            Actor::Webhook("acme".into()),
            t(n as i64, 111_111_111 * n as u32 + 7),
        );
        let mut e = AuditEvent::new(
            t(n as i64, 5),
            Actor::Webhook("acme".into()),
            "intake",
            AuditOutcome::Ok,
            "received",
        );
        let (i, created) = store.intake(new, e.clone()).await.expect("intake");
        assert!(created);
        e.integration = Some(i.id);
        intake_events.push(e);
        integrations.push(i);
    }
    let tax: TaxId = "52998224725".parse().expect("cpf");
    let customer = store
        .customer_id_for(&company(), &tax, CustomerId::new())
        .await
        .expect("customer");

    // Integration 0: in progress, with journal, links, reservations and audit.
    let orders = [ServiceOrderId::new(), ServiceOrderId::new()];
    let cap = Load {
        lines: 100,
        channels: 100,
    };
    let mut reservations = Vec::new();
    for (order, server) in orders.iter().zip([&sp1, &rj1]) {
        let r = Reservation {
            order: *order,
            integration: integrations[0].id,
            server: server.clone(),
            lines: 3,
            channels: 6,
            provisioned: false,
        };
        assert!(store.reserve(&r, cap).await.expect("reserve"));
        reservations.push(r);
    }
    let mut i0 = integrations[0].clone();
    i0.step = Some("next_customer:sp1".into());
    i0.customer = Some(customer);
    i0.raw = Some(RawProposal {
        id: Some("p0".into()),
        ..Default::default()
    });
    i0.attempts = 2;
    i0.next_attempt_at = t(60, 999_999_999);
    let steps: Vec<StepEntry> = [
        "validate",
        "erp_customer",
        "contract:0",
        "next_customer:sp1",
    ]
    .iter()
    .enumerate()
    .map(|(n, k)| StepEntry {
        key: (*k).into(),
        result: serde_json::json!({"step": k, "ids": [n, n + 1], "nested": {"ok": true}}),
        at: t(10 + n as i64, 123_456_789),
        duration_ms: 40 + n as u64,
    })
    .collect();
    let mut step_event = AuditEvent::new(
        t(13, 1),
        Actor::System,
        "step.next_customer:sp1",
        AuditOutcome::Ok,
        "customer ensured",
    );
    step_event.integration = Some(i0.id);
    step_event.system = Some(System::NextBilling);
    step_event.call = Some("customer.create".into());
    step_event.duration_ms = Some(41);
    step_event.details = serde_json::json!({"server": "sp1", "id": 77});
    let mut change = Change::state(i0.clone());
    change.steps = steps.clone();
    change.customer_erp = Some((customer, 4242));
    change.customer_voip = vec![(customer, sp1.clone(), 77)];
    change.provisioned = vec![orders[0]];
    change.audit = vec![step_event.clone()];
    store.commit(change).await.expect("commit i0");
    let mut change = Change::state(i0.clone());
    change.customer_voip = vec![(customer, rj1.clone(), 78)];
    store.commit(change).await.expect("second link");
    reservations[0].provisioned = true;

    // Integration 1: held with problems. Integration 2: failed and finished.
    let mut i1 = integrations[1].clone();
    i1.status = IntegrationStatus::Held;
    let mut problems = Problems::new();
    problems.add("customer.address.cep", Code::InvalidFormat, "not a CEP");
    problems.add("orders[1].dids[0]", Code::Required, "missing");
    i1.problems = problems;
    i1.held_since = Some(t(20, 20));
    i1.held_ms = 12_345;
    store.commit(Change::state(i1.clone())).await.expect("i1");
    let mut i2 = integrations[2].clone();
    i2.status = IntegrationStatus::Failed;
    i2.failure = Some(Failure {
        step: "contract:0".into(),
        system: Some(System::Omie),
        code: Some("SOAP-ENV:Client-8".into()),
        reason: "plan not found".into(),
        retryable: false,
    });
    i2.finished_at = Some(t(30, 300));
    i2.actor = Actor::User("ana".parse().expect("user"));
    store.commit(Change::state(i2.clone())).await.expect("i2");

    let limit = serde_json::json!({"blocked_until_ms": 1_790_000_999_000u64, "reason": "misuse"});
    store
        .set_limit_state("omie:acme", &limit)
        .await
        .expect("limit");
    let denial = AuditEvent::new(
        t(40, 4),
        Actor::User("bob".parse().expect("user")),
        "edit",
        AuditOutcome::Denied,
        "not allowed",
    );
    store
        .append_audit(std::slice::from_ref(&denial))
        .await
        .expect("append");

    let mut audit = intake_events;
    audit.push(step_event);
    audit.push(denial);
    audit.sort_by_key(|e| (e.at, e.id));
    Written {
        integrations: vec![i0, i1, i2],
        journal: steps.into_iter().map(|s| (s.key.clone(), s)).collect(),
        customer,
        tax,
        links: CustomerLinks {
            erp_id: Some(4242),
            voip: BTreeMap::from([(sp1.clone(), 77), (rj1.clone(), 78)]),
        },
        loads: BTreeMap::from([
            (
                sp1,
                Load {
                    lines: 3,
                    channels: 6,
                },
            ),
            (
                rj1,
                Load {
                    lines: 3,
                    channels: 6,
                },
            ),
        ]),
        reservations,
        limit,
        audit,
    }
}

async fn read_back(store: &dyn Store, w: &Written) {
    for i in &w.integrations {
        assert_eq!(store.get(i.id).await.expect("get").as_ref(), Some(i));
        assert_eq!(
            store
                .find_by_source(&i.source)
                .await
                .expect("find")
                .as_ref(),
            Some(i)
        );
    }
    assert_eq!(
        store
            .list(&IntegrationFilter::default())
            .await
            .expect("list"),
        w.integrations
    );
    assert_eq!(
        store.journal(w.integrations[0].id).await.expect("journal"),
        w.journal
    );
    assert!(
        store
            .journal(w.integrations[1].id)
            .await
            .expect("journal")
            .is_empty()
    );
    assert_eq!(
        store.customer_links(w.customer).await.expect("links"),
        w.links
    );
    assert_eq!(store.loads().await.expect("loads"), w.loads);
    for r in &w.reservations {
        assert_eq!(
            store
                .reservation(r.order)
                .await
                .expect("reservation")
                .as_ref(),
            Some(r)
        );
    }
    assert_eq!(
        store.limit_state("omie:acme").await.expect("limit"),
        Some(w.limit.clone())
    );
    assert_eq!(
        store.audit(&AuditFilter::default()).await.expect("audit"),
        w.audit
    );
    let for_i0 = store
        .audit(&AuditFilter {
            integration: Some(w.integrations[0].id),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(for_i0.len(), 2, "intake and one step");
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_reopen() {
    let dir = common::TempDir::new("persistence");
    let path = dir.db("sig.db");
    let store = SqliteStore::open(&path).expect("open");
    let written = write_everything(&store).await;
    read_back(&store, &written).await;
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    read_back(&reopened, &written).await;
    // The registry still answers with the first customer.
    assert_eq!(
        reopened
            .customer_id_for(&company(), &written.tax, CustomerId::new())
            .await
            .expect("customer"),
        written.customer
    );
    reopened.integrity_check().await.expect("integrity");
    drop(reopened);

    let ro = SqliteStore::open_read_only(&path).expect("read-only");
    assert!(ro.is_read_only());
    read_back(&ro, &written).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_store_refuses_every_write() {
    let dir = common::TempDir::new("read-only");
    let path = dir.db("sig.db");
    let writer = Arc::new(SqliteStore::open(&path).expect("open"));
    let written = write_everything(writer.as_ref()).await;
    let ro = SqliteStore::open_read_only(&path).expect("read-only");
    let i = written.integrations[0].clone();

    let refused = |what: &str, r: Result<(), StoreError>| match r {
        Err(StoreError::Unavailable(m)) => {
            assert!(m.contains("read-only"), "{what}: {m}")
        }
        other => panic!("{what} must be refused, got {other:?}"),
    };
    let event = AuditEvent::new(t(50, 0), Actor::System, "x", AuditOutcome::Ok, "x");
    refused(
        "intake",
        ro.intake(
            Integration::new(company(), key(9), Actor::System, t(50, 0)),
            event.clone(),
        )
        .await
        .map(|_| ()),
    );
    refused("commit", ro.commit(Change::state(i.clone())).await);
    refused(
        "claim",
        ro.claim(t(100, 0), Duration::from_secs(1), 1)
            .await
            .map(|_| ()),
    );
    refused("unclaim", ro.unclaim(i.id).await);
    refused(
        "customer_id_for",
        ro.customer_id_for(&company(), &written.tax, CustomerId::new())
            .await
            .map(|_| ()),
    );
    let r = Reservation {
        order: ServiceOrderId::new(),
        integration: i.id,
        server: "sp1".parse().expect("server"),
        lines: 1,
        channels: 1,
        provisioned: false,
    };
    refused(
        "reserve",
        ro.reserve(
            &r,
            Load {
                lines: 9,
                channels: 9,
            },
        )
        .await
        .map(|_| ()),
    );
    refused(
        "set_limit_state",
        ro.set_limit_state("k", &serde_json::json!(1)).await,
    );
    refused("append_audit", ro.append_audit(&[event]).await);
    read_back(&ro, &written).await;

    // It sees what the writer commits afterwards (BI reading a live store).
    let new = Integration::new(company(), key(7), Actor::System, t(70, 0));
    let e = AuditEvent::new(t(70, 0), Actor::System, "intake", AuditOutcome::Ok, "r");
    let (created, _) = writer.intake(new, e).await.expect("intake");
    assert_eq!(
        ro.get(created.id).await.expect("get").map(|i| i.id),
        Some(created.id)
    );
}

#[test]
fn read_only_does_not_create_a_missing_file() {
    let dir = common::TempDir::new("missing");
    let path = dir.db("nothing.db");
    match SqliteStore::open_read_only(&path) {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("nothing.db"), "{m}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(!path.exists());
}
