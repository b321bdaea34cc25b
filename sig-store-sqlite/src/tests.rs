//! Migration tests: they build files at older schema versions, which only the crate can do.

use std::path::Path;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use sig_core::ids::{ServerId, ServiceOrderId};
use sig_core::ports::SourceKey;
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, Change, Integration, Load, Reservation,
    StepEntry, Store, StoreError,
};

use crate::migrations::MIGRATIONS;
use crate::{SCHEMA_VERSION, SqliteOptions, SqliteStore};

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sig-store-sqlite-unit-{tag}-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("raw open")
}

fn user_version(path: &Path) -> i64 {
    raw(path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version")
}

fn recorded(path: &Path) -> Vec<(i64, String, String)> {
    let c = raw(path);
    let mut st = c
        .prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn has_index(path: &Path, name: &str) -> bool {
    raw(path)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .expect("sqlite_master")
        == 1
}

/// Write an integration, one journal entry and an audit event as versions 1 to 3 stored
/// them (the proposal document in the state row).
fn insert_old_integration(path: &Path, i: &Integration, step: &StepEntry, event: &AuditEvent) {
    let c = raw(path);
    let values = crate::store::integration_values(i).expect("values");
    c.execute(
        "INSERT INTO integrations (id, company, source_account, source_proposal, status, step, \
         raw, problems, failure, customer, attempts, actor, received_at, finished_at, \
         held_since, held_ms, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
         ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        rusqlite::params_from_iter(values),
    )
    .expect("old integration row");
    c.execute(
        "INSERT INTO journal (integration_id, step_key, result, at, duration_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            i.id.to_string(),
            step.key,
            step.result.to_string(),
            crate::codec::ts(step.at).expect("ts"),
            i64::try_from(step.duration_ms).expect("ms"),
        ],
    )
    .expect("old journal row");
    crate::store::insert_audit(&c, event).expect("old audit row");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_file_is_migrated_and_reopening_is_a_no_op() {
    let dir = TempDir::new("migrate");
    let path = dir.0.join("old.db");
    let at = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();

    // A file at version 1, with data written as that schema stores it (the proposal
    // document in the state row, until version 4).
    drop(SqliteStore::open_at(&path, SqliteOptions::default(), 1).expect("open at v1"));
    let company = "acme".parse().expect("company");
    let source = SourceKey {
        account: "acme".into(),
        proposal_id: "p1".into(),
    };
    let mut next = Integration::new(company, source.clone(), Actor::System, at);
    next.step = Some("validate".into());
    next.raw = Some(RawProposal {
        id: Some("p1".into()),
        code: Some("DS-00319".into()),
        ..RawProposal::default()
    });
    let i = next.clone();
    let step = StepEntry {
        key: "validate".into(),
        result: serde_json::json!({"ok": true}),
        at,
        duration_ms: 3,
    };
    let mut event = AuditEvent::new(at, Actor::System, "intake", AuditOutcome::Ok, "received");
    event.integration = Some(i.id);
    insert_old_integration(&path, &next, &step, &event);
    let audit_before = vec![event];
    assert_eq!(user_version(&path), 1);
    assert_eq!(recorded(&path).len(), 1);
    assert!(!has_index(&path, "audit_at"), "v1 has no indexes");
    // This build refuses to read an older file read-only: it must be migrated first.
    match SqliteStore::open_read_only(&path) {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("older"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Opening migrates it to the current version, keeping the data.
    let store = SqliteStore::open(&path).expect("open migrates");
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    assert_eq!(store.get(i.id).await.expect("get"), Some(next.clone()));
    let journal = store.journal(i.id).await.expect("journal");
    assert_eq!(journal.len(), 1);
    assert_eq!(journal["validate"], step);
    assert_eq!(
        store.audit(&AuditFilter::default()).await.expect("audit"),
        audit_before
    );
    assert_eq!(
        store.find_by_source(&source).await.expect("find"),
        Some(next)
    );
    drop(store);
    let after = recorded(&path);
    assert_eq!(
        after.iter().map(|r| r.0).collect::<Vec<_>>(),
        MIGRATIONS
            .iter()
            .map(|m| i64::from(m.version))
            .collect::<Vec<_>>()
    );
    assert!(has_index(&path, "audit_at"));
    // Version 6: the journal is a rowid table with a unique index on (integration, step).
    let journal_sql: String = raw(&path)
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'journal'",
            [],
            |r| r.get(0),
        )
        .expect("journal table");
    assert!(!journal_sql.contains("WITHOUT ROWID"), "{journal_sql}");
    assert!(has_index(&path, "sqlite_autoindex_journal_1"));

    // Reopening changes nothing.
    let again = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        again.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    drop(again);
    assert_eq!(recorded(&path), after, "reopening applies no migration");
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));
}

#[tokio::test(flavor = "multi_thread")]
async fn server_loads_are_built_from_older_reservations_and_follow_every_change() {
    let dir = TempDir::new("loads");
    let path = dir.0.join("v2.db");
    let at = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    drop(SqliteStore::open_at(&path, SqliteOptions::default(), 2).expect("open at v2"));
    let source = SourceKey {
        account: "acme".into(),
        proposal_id: "p1".into(),
    };
    let i = Integration::new("acme".parse().expect("company"), source, Actor::System, at);
    let step = StepEntry {
        key: "fetch".into(),
        result: serde_json::json!({}),
        at,
        duration_ms: 1,
    };
    let event = AuditEvent::new(at, Actor::System, "intake", AuditOutcome::Ok, "received");
    insert_old_integration(&path, &i, &step, &event);
    // Reservations as a version-2 build stored them (no load table yet).
    let orders: Vec<ServiceOrderId> = (0..4).map(|_| ServiceOrderId::new()).collect();
    {
        let c = raw(&path);
        for (n, (order, server)) in (0i64..).zip(orders.iter().zip(["sp1", "sp1", "rj1", "sp1"])) {
            c.execute(
                "INSERT INTO reservations (order_id, integration_id, server, lines, channels, \
                 provisioned) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                rusqlite::params![
                    order.to_string(),
                    i.id.to_string(),
                    server,
                    n + 1,
                    10 * (n + 1)
                ],
            )
            .expect("v2 reservation");
        }
    }
    let store = SqliteStore::open(&path).expect("open migrates");
    let load = |lines, channels| Load { lines, channels };
    let sp1: ServerId = "sp1".parse().expect("id");
    let rj1: ServerId = "rj1".parse().expect("id");
    let loads = store.loads().await.expect("loads");
    assert_eq!(loads.get(&sp1), Some(&load(1 + 2 + 4, 10 + 20 + 40)));
    assert_eq!(loads.get(&rj1), Some(&load(3, 30)));
    assert_eq!(loads.len(), 2);

    // A reservation adds, a release subtracts, a released server drops out of the map.
    let extra = Reservation {
        order: ServiceOrderId::new(),
        integration: i.id,
        server: rj1.clone(),
        lines: 5,
        channels: 1,
        provisioned: false,
    };
    assert!(
        store
            .reserve(&extra, load(8, 31))
            .await
            .expect("fits exactly")
    );
    let too_much = Reservation {
        order: ServiceOrderId::new(),
        lines: 1,
        ..extra.clone()
    };
    assert!(
        !store
            .reserve(&too_much, load(8, 1000))
            .await
            .expect("refused"),
        "the capacity check reads the maintained load"
    );
    let mut change = Change::state(store.get(i.id).await.expect("get").expect("exists"));
    change.released = vec![orders[2], extra.order, orders[0]];
    change.provisioned = vec![orders[1]];
    store.commit(change).await.expect("commit");
    let loads = store.loads().await.expect("loads");
    assert_eq!(loads.get(&sp1), Some(&load(2 + 4, 20 + 40)));
    assert_eq!(loads.get(&rj1), None, "nothing is reserved on rj1 any more");
    // The table always equals the sum of the reservations.
    let c = raw(&path);
    let drift: i64 = c
        .query_row(
            "SELECT count(*) FROM server_loads l LEFT JOIN (SELECT server, sum(lines) AS s, \
             sum(channels) AS ch FROM reservations GROUP BY server) r USING (server) \
             WHERE l.lines != coalesce(r.s, 0) OR l.channels != coalesce(r.ch, 0)",
            [],
            |r| r.get(0),
        )
        .expect("compare");
    assert_eq!(drift, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_file_is_refused() {
    let dir = TempDir::new("newer");
    let path = dir.0.join("newer.db");
    drop(SqliteStore::open(&path).expect("create"));
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    for r in [SqliteStore::open(&path), SqliteStore::open_read_only(&path)] {
        match r {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("newer"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        user_version(&path),
        i64::from(SCHEMA_VERSION + 1),
        "untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_database_is_refused_and_left_alone() {
    let dir = TempDir::new("foreign");
    let path = dir.0.join("other.db");
    raw(&path)
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep');")
        .expect("foreign file");
    match SqliteStore::open(&path) {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("not a SIG store"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let c = raw(&path);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "delete", "the file was not switched to WAL");
    let tables: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .expect("tables");
    assert_eq!(tables, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rows_are_corrupt_errors_not_panics() {
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("bad.db");
    let store = SqliteStore::open(&path).expect("open");
    let at = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let source = SourceKey {
        account: "acme".into(),
        proposal_id: "p1".into(),
    };
    let new = Integration::new("acme".parse().unwrap(), source, Actor::System, at);
    let event = AuditEvent::new(at, Actor::System, "intake", AuditOutcome::Ok, "received");
    let (i, _) = store.intake(new, event).await.expect("intake");
    let c = raw(&path);
    c.execute(
        "UPDATE integrations SET received_at = 'yesterday', actor = '{' WHERE id = ?1",
        [i.id.to_string()],
    )
    .expect("damage");
    c.execute("UPDATE audit SET outcome = 'maybe'", [])
        .expect("damage");
    match store.get(i.id).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(&i.id.to_string()), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.audit(&AuditFilter::default()).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// The query plan SQLite picks for the audit query of `filter`.
fn audit_plan(c: &Connection, filter: &AuditFilter) -> String {
    let (sql, values) = crate::store::audit_query(filter);
    let mut st = c
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("prepare");
    st.query_map(rusqlite::params_from_iter(values), |r| {
        r.get::<_, String>(3)
    })
    .expect("plan")
    .collect::<Result<Vec<_>, _>>()
    .expect("rows")
    .join("; ")
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_filters_use_their_indexes() {
    let dir = TempDir::new("audit-plans");
    let path = dir.0.join("plans.db");
    drop(SqliteStore::open(&path).expect("open"));
    let c = raw(&path);
    let at = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let user = Actor::User("ana".parse().expect("user id"));
    let cases = [
        (
            AuditFilter {
                integration: Some(sig_core::ids::IntegrationId::new()),
                ..AuditFilter::default()
            },
            "audit_integration",
        ),
        (
            AuditFilter {
                since: Some(at),
                ..AuditFilter::default()
            },
            "audit_at",
        ),
        (
            AuditFilter {
                actor: Some(user.clone()),
                ..AuditFilter::default()
            },
            "audit_actor",
        ),
        (
            AuditFilter {
                actor: Some(Actor::Webhook("acme".into())),
                since: Some(at),
                ..AuditFilter::default()
            },
            "audit_actor",
        ),
        (
            AuditFilter {
                action_prefix: Some("server.".into()),
                ..AuditFilter::default()
            },
            "audit_action",
        ),
        (
            AuditFilter {
                action_prefix: Some("intake".into()),
                since: Some(at),
                ..AuditFilter::default()
            },
            "audit_action",
        ),
    ];
    for (filter, index) in &cases {
        let plan = audit_plan(&c, filter);
        assert!(
            plan.contains(index),
            "{filter:?} should use {index}: {plan}"
        );
    }
    // The partial indexes leave out the system's events and the steps: those filters cannot
    // use them (they read the trail in time order instead).
    for filter in [
        AuditFilter {
            actor: Some(Actor::System),
            ..AuditFilter::default()
        },
        AuditFilter {
            action_prefix: Some("step.".into()),
            ..AuditFilter::default()
        },
    ] {
        let plan = audit_plan(&c, &filter);
        assert!(
            !plan.contains("audit_actor") && !plan.contains("audit_action"),
            "{filter:?}: {plan}"
        );
    }
    // Partial: a step by the system is in neither index.
    let store = SqliteStore::open(&path).expect("reopen");
    let mut events = vec![AuditEvent::new(
        at,
        Actor::System,
        "step.erp_customer",
        AuditOutcome::Ok,
        "Omie customer 1",
    )];
    events.push(AuditEvent::new(
        at,
        user,
        "edit",
        AuditOutcome::Ok,
        "field plan",
    ));
    store.append_audit(&events).await.expect("append");
    drop(store);
    let entries = |index: &str| -> i64 {
        c.query_row(
            &format!(
                "SELECT count(*) FROM audit INDEXED BY {index} WHERE {}",
                match index {
                    "audit_actor" => "actor_key <> 'system'",
                    _ => "substr(action, 1, 5) <> 'step.'",
                }
            ),
            [],
            |r| r.get(0),
        )
        .expect("count")
    };
    assert_eq!(entries("audit_actor"), 1);
    assert_eq!(entries("audit_action"), 1);
}

proptest::proptest! {
    /// `prefix <= s < prefix_end(prefix)` exactly when `s` starts with `prefix` (Rust compares
    /// strings by their UTF-8 bytes, as SQLite does).
    #[test]
    fn the_prefix_range_holds_exactly_the_strings_with_the_prefix(
        prefix in "(\\PC|\u{D7FF}|\u{E000}|\u{10FFFF}){0,4}",
        rest in "(\\PC|\u{10FFFF}){0,3}",
        other in "(\\PC|\u{D7FF}|\u{E000}|\u{10FFFF}){0,6}",
    ) {
        let end = crate::store::prefix_end(&prefix);
        let in_range = |s: &str| s >= prefix.as_str() && end.as_deref().is_none_or(|e| s < e);
        let with = format!("{prefix}{rest}");
        proptest::prop_assert!(in_range(&with), "{with:?} not in [{prefix:?}, {end:?})");
        proptest::prop_assert_eq!(in_range(&other), other.starts_with(prefix.as_str()));
    }
}

#[test]
fn prefix_ends() {
    use crate::store::prefix_end;
    assert_eq!(prefix_end("server.").as_deref(), Some("server/"));
    assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_end("\u{10FFFF}"), None);
    assert_eq!(prefix_end(""), None);
}
