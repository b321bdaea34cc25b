//! Customers registered directly in SIG and SIG → DocSales, against the sandboxes: the happy
//! paths, idempotency (a repeat creates nothing upstream), validation, and the refusals of the
//! default policy (audited).

mod harness;

use harness::{Harness, settings, sig};
use serde_json::{Value, json};
use sig_core::authz::Policy;
use sig_core::config::Profile;
use sig_core::ids::CustomerId;
use sig_core::pipeline::{RawRegistration, RegisterError, RegisterOutcome};
use sig_core::push::{PushError, document_code, push_to_docsales};
use sig_core::store::{Actor, AuditFilter, AuditOutcome, IntegrationStatus};
use sig_core::{Code, TaxId};
use sig_docsales::DocSalesPush;
use sig_sandbox::{FaultKind, FaultSpec};

fn user(id: &str) -> Actor {
    Actor::User(id.parse().expect("user id"))
}

fn registration(tax_id: &str, orders: Value) -> RawRegistration {
    serde_json::from_value(json!({
        "customer": {
            "tax_id": tax_id,
            "legal_name": "Oficina Mecânica Rio Ltda",
            "trade_name": "Oficina Rio",
            "emails": ["contato@oficinario.com.br"],
            "phones": ["(21) 2233-4455"],
            "address": {"street": "Avenida Brasil", "number": "5000", "district": "Penha",
                        "city": "Rio de Janeiro", "uf": "RJ", "cep": "21012-000"}
        },
        "orders": orders
    }))
    .expect("registration")
}

fn one_order() -> Value {
    json!([{"product": "VOIP-LINHA", "quantity": 2, "area_code": "21",
            "dids": ["(21) 2233-4400"], "start_date": "2027-01-01", "billing_day": 10}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_registration_runs_the_pipeline_once_per_customer() {
    let h = Harness::start("register").await;
    let rt = h.runtime(settings()).await;
    let policy = Policy::builtin();
    let company = "acme".parse().expect("company");
    let reg = registration("11.222.333/0001-81", one_order());

    let first = rt
        .pipeline
        .register_customer(
            &policy,
            &user("bruno"),
            Some(Profile::Operator),
            &company,
            &reg,
        )
        .await
        .expect("registered");
    let RegisterOutcome::Created {
        customer,
        integration,
    } = first
    else {
        panic!("created: {first:?}");
    };
    rt.run_until_idle().await.expect("run");
    let i = rt
        .store
        .get(integration)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(i.status, IntegrationStatus::Done, "{:?}", i.failure);
    assert_eq!(i.source.account, "sig");
    assert_eq!(i.source.proposal_id, customer.to_string());
    assert_eq!(i.customer, Some(customer));
    let (creates, dups) = h.creates();
    assert_eq!(dups, 0);
    assert_eq!(creates["omie:customer"], 1);
    assert_eq!(creates["omie:contract"], 1);
    assert_eq!(creates["nextbilling:rj1:line"], 2);
    assert_eq!(creates["nextbilling:rj1:did"], 1);
    assert!(
        h.sb.omie.customer(&customer.to_string()).is_some(),
        "keyed by the SIG id"
    );

    // The same CPF/CNPJ again — even with other orders, masked differently — finds it.
    let again = registration(
        "11222333000181",
        json!([{"product": "VOIP-PABX-RAMAL", "area_code": "11",
                "start_date": "2027-02-01", "billing_day": 5}]),
    );
    let second = rt
        .pipeline
        .register_customer(
            &policy,
            &user("ana"),
            Some(Profile::Admin),
            &company,
            &again,
        )
        .await
        .expect("registered");
    assert_eq!(
        second,
        RegisterOutcome::Existing {
            customer,
            integration,
            status: IntegrationStatus::Done
        }
    );
    rt.run_until_idle().await.expect("run");
    assert_eq!(
        h.creates(),
        (creates, 0),
        "a repeat creates nothing upstream"
    );
    let registrations = rt
        .store
        .audit(&AuditFilter {
            action_prefix: Some("register".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(registrations.len(), 1, "one registration event");
    assert_eq!(registrations[0].actor, user("bruno"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_without_orders_is_registered_in_omie_only() {
    let h = Harness::start("register-no-orders").await;
    let rt = h.runtime(settings()).await;
    let company = "acme".parse().expect("company");
    let out = rt
        .pipeline
        .register_customer(
            &Policy::builtin(),
            &user("ana"),
            Some(Profile::Admin),
            &company,
            &registration("529.982.247-25", json!([])),
        )
        .await
        .expect("registered");
    rt.run_until_idle().await.expect("run");
    let i = rt
        .store
        .get(out.integration().expect("integration"))
        .await
        .expect("get")
        .expect("found");
    assert_eq!(i.status, IntegrationStatus::Done, "{:?}", i.failure);
    let (creates, _) = h.creates();
    assert_eq!(creates.get("omie:customer"), Some(&1));
    assert_eq!(creates.get("omie:contract").copied().unwrap_or(0), 0);
    assert!(
        creates.keys().all(|k| !k.starts_with("nextbilling")),
        "{creates:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_invalid_data_and_customers_known_from_proposals() {
    let h = Harness::start("register-refusals").await;
    let rt = h.runtime(settings()).await;
    let policy = Policy::builtin();
    let company = "acme".parse().expect("company");
    let reg = registration("11.222.333/0001-81", one_order());

    for (who, profile) in [
        ("vera", Some(Profile::Viewer)),
        ("carla", Some(Profile::Finance)),
        ("mallory", None),
    ] {
        let e = rt
            .pipeline
            .register_customer(&policy, &user(who), profile, &company, &reg)
            .await
            .expect_err("refused");
        let RegisterError::Denied(d) = e else {
            panic!("denied: {e}")
        };
        assert_eq!(d.action.as_str(), "register_customer");
    }
    let denied = rt
        .store
        .audit(&AuditFilter {
            action_prefix: Some("authz.register_customer".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(denied.len(), 3);
    assert!(denied.iter().all(|e| e.outcome == AuditOutcome::Denied));
    let tax: TaxId = "11222333000181".parse().expect("tax id");
    assert_eq!(
        rt.store.find_customer(&company, &tax).await.expect("find"),
        None
    );

    // Invalid: every problem at once, nothing stored.
    let bad: RawRegistration = serde_json::from_value(json!({
        "customer": {"tax_id": "111.111.111-11", "legal_name": "X", "emails": ["nope"],
                     "phones": ["1"], "address": {"uf": "ZZ"}},
        "orders": [{"product": "NOPE", "area_code": "11", "start_date": "31/02/2027"}]
    }))
    .expect("shape");
    let e = rt
        .pipeline
        .register_customer(
            &policy,
            &user("bruno"),
            Some(Profile::Operator),
            &company,
            &bad,
        )
        .await
        .expect_err("invalid");
    let RegisterError::Invalid(p) = e else {
        panic!("invalid: {e}")
    };
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    for f in [
        "customer.tax_id",
        "customer.emails[0]",
        "customer.phones[0]",
        "customer.address.street",
        "customer.address.uf",
        "customer.address.cep",
        "orders[0].product",
        "orders[0].start_date",
        "orders[0].billing_day",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert!(p.iter().any(|p| p.code == Code::RepeatedDigits));
    assert!(
        rt.store
            .list(&Default::default())
            .await
            .expect("list")
            .is_empty()
    );

    // A customer SIG knows from a DocSales proposal is not registered again.
    let known = rt
        .store
        .customer_id_for(&company, &tax, CustomerId::new())
        .await
        .expect("customer");
    let out = rt
        .pipeline
        .register_customer(
            &policy,
            &user("bruno"),
            Some(Profile::Operator),
            &company,
            &reg,
        )
        .await
        .expect("decided");
    assert_eq!(out, RegisterOutcome::KnownElsewhere { customer: known });
    assert!(
        rt.store
            .list(&Default::default())
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(h.creates().0.values().sum::<u64>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_registers_the_shipped_example() {
    let h = Harness::start("register-cli").await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/data/customer.json");
    let run = |who: &str| {
        sig(&h)
            .args(["customers", "register", "--config"])
            .arg(&h.config_path)
            .args(["--file", file, "--as", who, "--json"])
            .output()
            .expect("run sig")
    };
    let out = run("bruno");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["outcome"], "created", "{v}");
    assert_eq!(v["integration_report"]["status"], "done", "{v}");
    let out = run("bruno");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["outcome"], "existing");
    let out = run("vera");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not register_customer"));
    let (creates, dups) = h.creates();
    assert_eq!((creates["omie:customer"], dups), (1, 0));
}

/// A registered, integrated customer to push.
async fn integrated_customer(h: &Harness, rt: &sig_cli::runtime::Runtime) -> CustomerId {
    let out = rt
        .pipeline
        .register_customer(
            &Policy::builtin(),
            &user("ana"),
            Some(Profile::Admin),
            &"acme".parse().expect("company"),
            &registration("11.222.333/0001-81", one_order()),
        )
        .await
        .expect("registered");
    rt.run_until_idle().await.expect("run");
    assert_eq!(h.creates().1, 0);
    out.customer()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_docsales_is_idempotent_audited_and_admin_only() {
    let h = Harness::start("push").await;
    let rt = h.runtime(settings()).await;
    let customer = integrated_customer(&h, &rt).await;
    let crm = DocSalesPush::new(h.sb.docsales.client());
    let policy = Policy::builtin();

    let first = push_to_docsales(
        &rt.pipeline,
        &policy,
        &user("ana"),
        Some(Profile::Admin),
        &crm,
        customer,
        Some("1"),
    )
    .await
    .expect("pushed");
    let doc = first.document.clone().expect("document");
    assert_eq!(doc.created, Some(true));
    assert_eq!(
        doc.code.as_deref(),
        Some(document_code(customer, "1").as_str())
    );
    assert_eq!(first.orders, 1);
    let record =
        h.sb.docsales
            .customer(&customer.to_string())
            .expect("customer record");
    assert_eq!(record["legal_code"], "11222333000181");
    assert_eq!(record["name"], "Oficina Mecânica Rio Ltda");
    let stored =
        h.sb.docsales
            .proposal(doc.id.expect("id"))
            .expect("document stored");
    assert_eq!(stored.products.len(), 1);
    assert_eq!(stored.products[0].code.as_deref(), Some("VOIP-LINHA"));
    assert_eq!(stored.products[0].extra["custom_ddd"], "21");

    // Again: the same records, nothing created.
    let second = push_to_docsales(
        &rt.pipeline,
        &policy,
        &user("ana"),
        Some(Profile::Admin),
        &crm,
        customer,
        Some("1"),
    )
    .await
    .expect("pushed");
    assert_eq!(second.docsales_customer.id, first.docsales_customer.id);
    let again = second.document.expect("document");
    assert_eq!((again.id, again.created), (doc.id, Some(false)));
    let c = h.sb.docsales.counters();
    assert_eq!((c.total("customer"), c.total("proposal")), (1, 1));

    // Only the profiles the policy names.
    for (who, profile) in [
        ("bruno", Some(Profile::Operator)),
        ("vera", Some(Profile::Viewer)),
    ] {
        let e = push_to_docsales(
            &rt.pipeline,
            &policy,
            &user(who),
            profile,
            &crm,
            customer,
            Some("1"),
        )
        .await
        .expect_err("refused");
        assert!(matches!(e, PushError::Denied(_)), "{e}");
    }
    let audit = rt
        .store
        .audit(&AuditFilter::default())
        .await
        .expect("audit");
    let count = |action: &str, outcome: AuditOutcome| {
        audit
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("authz.push_to_docsales", AuditOutcome::Ok), 2);
    assert_eq!(count("authz.push_to_docsales", AuditOutcome::Denied), 2);
    assert_eq!(count("docsales.push_customer", AuditOutcome::Ok), 2);
    assert_eq!(count("docsales.create_document", AuditOutcome::Ok), 2);
    assert_eq!((c.total("customer"), c.total("proposal")), (1, 1));

    // An unknown template is refused before anything is created; an unknown customer too.
    let e = push_to_docsales(
        &rt.pipeline,
        &policy,
        &user("ana"),
        Some(Profile::Admin),
        &crm,
        customer,
        Some("Contrato Inexistente"),
    )
    .await
    .expect_err("unknown template");
    assert!(
        matches!(&e, PushError::Upstream(u) if u.kind == sig_core::ports::UpstreamErrorKind::Rejected),
        "{e}"
    );
    assert_eq!(count("docsales.create_document", AuditOutcome::Ok), 2);
    let e = push_to_docsales(
        &rt.pipeline,
        &policy,
        &user("ana"),
        Some(Profile::Admin),
        &crm,
        CustomerId::new(),
        None,
    )
    .await
    .expect_err("unknown customer");
    assert!(matches!(e, PushError::UnknownCustomer(_)), "{e}");
    assert_eq!(c.total("proposal"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_the_document_create_is_found_not_resent() {
    let h = Harness::start("push-lost").await;
    let rt = h.runtime(settings()).await;
    let customer = integrated_customer(&h, &rt).await;
    h.sb.docsales
        .faults()
        .add(FaultSpec::always(FaultKind::ResponseLost).on_call("create_document"))
        .expect("fault");
    let crm = DocSalesPush::new(h.sb.docsales.client());
    let out = push_to_docsales(
        &rt.pipeline,
        &Policy::builtin(),
        &user("ana"),
        Some(Profile::Admin),
        &crm,
        customer,
        Some("Proposta padrão"),
    )
    .await
    .expect("pushed despite the lost answer");
    let doc = out.document.expect("document");
    assert_eq!(doc.created, Some(true));
    assert_eq!(
        h.sb.docsales.counters().total("proposal"),
        1,
        "one document, not two"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pushes_for_an_admin_only() {
    let h = Harness::start("push-cli").await;
    let rt = h.runtime(settings()).await;
    let customer = integrated_customer(&h, &rt).await;
    drop(rt);
    let run = |who: &str| {
        sig(&h)
            .args([
                "docsales",
                "push",
                &customer.to_string(),
                "--document",
                "1",
                "--config",
            ])
            .arg(&h.config_path)
            .args(["--as", who, "--json"])
            .output()
            .expect("run sig")
    };
    let out = run("ana");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["document"]["created"], true, "{v}");
    let out = run("ana");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["document"]["created"], false, "{v}");
    let out = run("bruno");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not push_to_docsales"));
    assert_eq!(h.sb.docsales.counters().total("proposal"), 1);
}
