//! Fallback, caching, rate limits and each policy outcome against the fiscal sandbox, with
//! seeded faults, including a provider that is down for the whole run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sig_core::ports::{System, UpstreamErrorKind};
use sig_core::raw::RawAddress;
use sig_fiscal::sandbox::FiscalSandbox;
use sig_fiscal::{
    AddressSource, CacheConfig, Finding, FiscalClient, FiscalClientBuilder, FiscalPolicy,
    FiscalVerdict, Lookup, ManualClock, Provider, ProviderErrorKind, RateLimit, RegistrationStatus,
    enrich, evaluate_lookup,
};
use sig_sandbox::{FaultKind, FaultSpec, Timing};

const ACTIVE: &str = "11222333000181";
const OPEN_KNOWLEDGE: &str = "19131243000197";
const CLOSED: &str = "37335118000180";
const ALPHANUMERIC: &str = "12ABC34501DE35";
const NOBODY: &str = "34665388000161";
const DEMO: [&str; 4] = [ACTIVE, OPEN_KNOWLEDGE, CLOSED, ALPHANUMERIC];

/// A sandbox with minute windows of 600 ms and room for every test but the limit ones.
async fn sandbox_with(
    f: impl FnOnce(
        sig_fiscal::sandbox::FiscalSandboxBuilder,
    ) -> sig_fiscal::sandbox::FiscalSandboxBuilder,
) -> FiscalSandbox {
    let mut builder = FiscalSandbox::builder().timing(Timing::scaled(0.01));
    for p in Provider::ALL {
        builder = builder.limit(p, 10_000);
    }
    f(builder).start().await.expect("sandbox starts")
}

async fn sandbox() -> FiscalSandbox {
    sandbox_with(|b| b).await
}

/// A chain of `providers` on the sandbox, without SIG's own limits or cache.
fn chain(sb: &FiscalSandbox, providers: &[Provider]) -> FiscalClientBuilder {
    providers
        .iter()
        .fold(FiscalClient::builder(), |b, p| {
            let config = sb.provider_config(*p).no_rate_limit();
            if p.kind() == sig_fiscal::LookupKind::Cnpj {
                b.cnpj_provider(config)
            } else {
                b.cep_provider(config)
            }
        })
        .cache(CacheConfig::disabled())
        .timeout(Duration::from_secs(3))
}

async fn source(client: &FiscalClient, cnpj: &str) -> Provider {
    match client.lookup_cnpj_text(cnpj).await {
        Ok(Lookup::Found(r)) => r.source,
        other => panic!("{cnpj}: {other:?}"),
    }
}

#[tokio::test]
async fn a_provider_down_for_the_whole_run_is_skipped_every_time() {
    let sb = sandbox().await;
    sb.faults()
        .add(FaultSpec::always(FaultKind::http_error(503)).on_call("brasil_api"))
        .unwrap();
    let client = chain(&sb, &[Provider::BrasilApi, Provider::MinhaReceita])
        .build()
        .unwrap();
    for cnpj in DEMO {
        let r = client
            .lookup_cnpj_text(cnpj)
            .await
            .unwrap()
            .found()
            .unwrap();
        assert_eq!(r.source, Provider::MinhaReceita, "{cnpj}");
        assert_eq!(r.cnpj.as_str(), cnpj);
    }
    assert_eq!(
        client.lookup_cnpj_text(NOBODY).await.unwrap(),
        Lookup::NotFound {
            provider: Provider::MinhaReceita
        }
    );
    assert_eq!(sb.served_total(Provider::BrasilApi), 0);
    assert_eq!(sb.served_total(Provider::MinhaReceita), 5);
    assert_eq!(sb.faults().injected()["http_error"], 5);
    sb.shutdown().await;
}

#[tokio::test]
async fn when_every_provider_fails_each_one_is_named() {
    let sb = sandbox().await;
    sb.faults()
        .add(FaultSpec::always(FaultKind::http_error(502)))
        .unwrap();
    let order = [
        Provider::BrasilApi,
        Provider::MinhaReceita,
        Provider::ReceitaWs,
        Provider::Cnpja,
    ];
    let client = chain(&sb, &order).build().unwrap();
    let error = client.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    let text = error.to_string();
    for p in order {
        assert!(text.contains(p.as_str()), "{text}");
    }
    let attempts = error.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.provider).collect::<Vec<_>>(),
        order
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.kind == ProviderErrorKind::Unavailable && a.status == Some(502))
    );
    assert!(error.is_retryable());
    let upstream = error.to_upstream(ACTIVE);
    assert_eq!(upstream.system, System::Fiscal);
    assert_eq!(upstream.kind, UpstreamErrorKind::Transient);
    assert_eq!(upstream.record.as_deref(), Some(ACTIVE));
    assert!(!upstream.maybe_applied);
    sb.shutdown().await;
}

#[tokio::test]
async fn timeouts_resets_and_malformed_answers_fall_back() {
    let sb = sandbox().await;
    let faults = sb.faults();
    faults
        .add(
            FaultSpec::always(FaultKind::Timeout {
                hold_ms: Some(5_000),
            })
            .on_call("brasil_api"),
        )
        .unwrap();
    faults
        .add(FaultSpec::always(FaultKind::ConnectionReset).on_call("minha_receita"))
        .unwrap();
    faults
        .add(FaultSpec::always(FaultKind::MalformedJson { body: None }).on_call("receita_ws"))
        .unwrap();
    let client = chain(
        &sb,
        &[
            Provider::BrasilApi,
            Provider::MinhaReceita,
            Provider::ReceitaWs,
            Provider::Cnpja,
        ],
    )
    .timeout(Duration::from_millis(300))
    .build()
    .unwrap();
    let started = Instant::now();
    assert_eq!(source(&client, ACTIVE).await, Provider::Cnpja);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut the wait"
    );
    let injected = faults.injected();
    assert_eq!(injected["timeout"], 1);
    assert_eq!(injected["connection_reset"], 1);
    assert_eq!(injected["malformed_json"], 1);
    // Only CNPJá: each failure kind is reported as such.
    faults.clear();
    faults
        .add(FaultSpec::always(FaultKind::Timeout {
            hold_ms: Some(5_000),
        }))
        .unwrap();
    let only = chain(&sb, &[Provider::BrasilApi])
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::Timeout);
    faults.clear();
    faults
        .add(FaultSpec::always(FaultKind::ConnectionReset))
        .unwrap();
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::Unavailable);
    faults.clear();
    faults
        .add(FaultSpec::always(FaultKind::MalformedJson { body: None }))
        .unwrap();
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::Malformed);
    sb.shutdown().await;
}

#[tokio::test]
async fn not_found_is_an_answer_and_ends_the_chain() {
    let sb = sandbox().await;
    let client = chain(
        &sb,
        &[
            Provider::BrasilApi,
            Provider::MinhaReceita,
            Provider::ViaCep,
            Provider::BrasilApiCep,
        ],
    )
    .build()
    .unwrap();
    assert_eq!(
        client.lookup_cnpj_text(NOBODY).await.unwrap(),
        Lookup::NotFound {
            provider: Provider::BrasilApi
        }
    );
    assert_eq!(sb.served(Provider::BrasilApi, NOBODY), 1);
    assert_eq!(sb.served(Provider::MinhaReceita, NOBODY), 0);
    assert_eq!(
        client.lookup_cep_text("99999-999").await.unwrap(),
        Lookup::NotFound {
            provider: Provider::ViaCep
        }
    );
    assert_eq!(sb.served_total(Provider::BrasilApiCep), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn cep_falls_back_to_brasilapi_when_viacep_is_down() {
    let sb = sandbox().await;
    sb.faults()
        .add(FaultSpec::always(FaultKind::ConnectionReset).on_call("via_cep"))
        .unwrap();
    let client = chain(&sb, &[Provider::ViaCep, Provider::BrasilApiCep])
        .build()
        .unwrap();
    let r = client
        .lookup_cep_text("01001-000")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(r.source, Provider::BrasilApiCep);
    assert_eq!(r.street.as_deref(), Some("Praça da Sé"));
    assert_eq!(r.city.as_deref(), Some("São Paulo"));
    sb.shutdown().await;
}

#[tokio::test]
async fn the_cache_keeps_answers_and_misses_for_their_ttls() {
    let sb = sandbox().await;
    let clock = ManualClock::new();
    let client = chain(&sb, &[Provider::BrasilApi, Provider::ViaCep])
        .cache(CacheConfig {
            found_ttl: Duration::from_secs(60),
            not_found_ttl: Duration::from_secs(10),
            capacity: 100,
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(source(&client, ACTIVE).await, Provider::BrasilApi);
        assert!(
            client
                .lookup_cnpj_text(NOBODY)
                .await
                .unwrap()
                .is_not_found()
        );
        assert!(
            client
                .lookup_cep_text("01001000")
                .await
                .unwrap()
                .found()
                .is_some()
        );
    }
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 1);
    assert_eq!(sb.served(Provider::BrasilApi, NOBODY), 1);
    assert_eq!(sb.served(Provider::ViaCep, "01001000"), 1);
    assert_eq!(client.cached(), 3);
    clock.advance(Duration::from_secs(11));
    client.lookup_cnpj_text(NOBODY).await.unwrap();
    source(&client, ACTIVE).await;
    assert_eq!(
        sb.served(Provider::BrasilApi, NOBODY),
        2,
        "the miss expired"
    );
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 1, "the hit did not");
    clock.advance(Duration::from_secs(50));
    source(&client, ACTIVE).await;
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 2, "the hit expired");
    client.clear_cache();
    assert_eq!(client.cached(), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn failures_are_not_cached() {
    let sb = sandbox().await;
    let client = chain(&sb, &[Provider::BrasilApi])
        .cache(CacheConfig::default())
        .build()
        .unwrap();
    sb.faults()
        .add(FaultSpec::always(FaultKind::http_error(503)))
        .unwrap();
    assert!(client.lookup_cnpj_text(ACTIVE).await.is_err());
    assert_eq!(client.cached(), 0);
    sb.faults().clear();
    assert_eq!(source(&client, ACTIVE).await, Provider::BrasilApi);
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_providers_429_moves_on_to_the_next() {
    // A 3 s window: wide enough for five lookups on a loaded machine.
    let sb = sandbox_with(|b| b.timing(Timing::scaled(0.05)).limit(Provider::ReceitaWs, 3)).await;
    let client = chain(&sb, &[Provider::ReceitaWs, Provider::BrasilApi])
        .build()
        .unwrap();
    let mut sources = Vec::new();
    for _ in 0..5 {
        sources.push(source(&client, ACTIVE).await);
    }
    use Provider::{BrasilApi as B, ReceitaWs as R};
    assert_eq!(sources, [R, R, R, B, B]);
    assert_eq!(sb.served(Provider::ReceitaWs, ACTIVE), 3);
    // Only ReceitaWS: its 429 is reported, with its wait.
    let only = chain(&sb, &[Provider::ReceitaWs]).build().unwrap();
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::RateLimited);
    assert_eq!(e.attempts()[0].status, Some(429));
    assert!(e.retry_after().is_some());
    // The (scaled) minute passes: ReceitaWS answers again.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_eq!(source(&only, ACTIVE).await, Provider::ReceitaWs);
    sb.shutdown().await;
}

#[tokio::test]
async fn sigs_own_limit_skips_a_provider_without_calling_it() {
    let sb = sandbox().await;
    let client = FiscalClient::builder()
        .cnpj_provider(
            sb.provider_config(Provider::BrasilApi)
                .rate_limit(RateLimit::per_minute(2)),
        )
        .cnpj_provider(sb.provider_config(Provider::MinhaReceita).no_rate_limit())
        .cache(CacheConfig::disabled())
        .build()
        .unwrap();
    let mut sources = Vec::new();
    for _ in 0..4 {
        sources.push(source(&client, ACTIVE).await);
    }
    use Provider::{BrasilApi as B, MinhaReceita as M};
    assert_eq!(sources, [B, B, M, M]);
    assert_eq!(
        sb.served(Provider::BrasilApi, ACTIVE),
        2,
        "never asked beyond the budget"
    );
    let only = FiscalClient::builder()
        .cnpj_provider(
            sb.provider_config(Provider::BrasilApi)
                .rate_limit(RateLimit::new(1, Duration::from_secs(3600))),
        )
        .cache(CacheConfig::disabled())
        .build()
        .unwrap();
    source(&only, ACTIVE).await;
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::Throttled);
    assert_eq!(e.attempts()[0].status, None);
    assert!(e.retry_after().unwrap() > Duration::from_secs(3000));
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn cnpja_credits_key_and_rate() {
    let sb = sandbox_with(|b| b.cnpja_credits(1)).await;
    let client = chain(&sb, &[Provider::Cnpja, Provider::BrasilApi])
        .build()
        .unwrap();
    assert_eq!(source(&client, ACTIVE).await, Provider::Cnpja);
    assert_eq!(sb.cnpja_credits(), 0);
    assert_eq!(source(&client, OPEN_KNOWLEDGE).await, Provider::BrasilApi);
    let only = chain(&sb, &[Provider::Cnpja]).build().unwrap();
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::OutOfCredits);
    assert!(!e.is_retryable(), "waiting does not bring credits");
    let wrong_key = FiscalClient::builder()
        .cnpj_provider(
            sb.provider_config(Provider::Cnpja)
                .api_key(SecretString::from("not-the-key")),
        )
        .build()
        .unwrap();
    let e = wrong_key.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::Unauthorized);
    assert_eq!(e.to_upstream(ACTIVE).kind, UpstreamErrorKind::Unauthorized);
    sb.shutdown().await;

    let sb = sandbox_with(|b| b.timing(Timing::scaled(1.0)).limit(Provider::Cnpja, 1)).await;
    let only = chain(&sb, &[Provider::Cnpja]).build().unwrap();
    source(&only, ACTIVE).await;
    let e = only.lookup_cnpj_text(ACTIVE).await.unwrap_err();
    assert_eq!(e.attempts()[0].kind, ProviderErrorKind::RateLimited);
    assert!(e.is_retryable());
    sb.shutdown().await;
}

/// Seeded transient faults on the first provider: every lookup still succeeds, and the same
/// seed gives the same sequence of answering providers.
#[tokio::test]
async fn seeded_transient_faults_are_absorbed_and_reproducible() {
    async fn run(seed: u64) -> (Vec<Provider>, u64) {
        let sb = sandbox().await;
        sb.faults()
            .add(FaultSpec::transient(FaultKind::http_error(502), 0.5, seed).on_call("brasil_api"))
            .unwrap();
        let client = chain(&sb, &[Provider::BrasilApi, Provider::MinhaReceita])
            .build()
            .unwrap();
        let mut sources = Vec::new();
        for i in 0..20 {
            sources.push(source(&client, DEMO[i % DEMO.len()]).await);
        }
        let injected = sb.faults().injected()["http_error"];
        assert_eq!(injected, sb.served_total(Provider::MinhaReceita));
        assert_eq!(
            sb.served_total(Provider::BrasilApi) + sb.served_total(Provider::MinhaReceita),
            20
        );
        sb.shutdown().await;
        (sources, injected)
    }
    let (first, injected) = run(7).await;
    assert!(injected > 0 && injected < 20, "{injected}");
    let (second, _) = run(7).await;
    assert_eq!(first, second);
}

#[tokio::test]
async fn each_policy_outcome_from_sandbox_lookups() {
    let sb = sandbox().await;
    // BrasilAPI is down for this whole test too: policy results do not depend on who answers.
    sb.faults()
        .add(FaultSpec::always(FaultKind::http_error(503)).on_call("brasil_api"))
        .unwrap();
    let client = chain(
        &sb,
        &[
            Provider::BrasilApi,
            Provider::MinhaReceita,
            Provider::ReceitaWs,
        ],
    )
    .build()
    .unwrap();
    let lookup = |cnpj: &'static str| {
        let client = &client;
        async move { client.lookup_cnpj_text(cnpj).await.unwrap() }
    };
    let active = lookup(ACTIVE).await;
    let closed = lookup(CLOSED).await;
    let alnum = lookup(ALPHANUMERIC).await;
    let nobody = lookup(NOBODY).await;
    assert_eq!(
        closed.as_found().unwrap().registration.status,
        RegistrationStatus::Closed
    );

    // Pass: active, same name (accents, suffix), under every policy.
    for policy in [FiscalPolicy::Off, FiscalPolicy::Warn, FiscalPolicy::Block] {
        assert_eq!(
            evaluate_lookup(policy, "Telefonia São João Ltda.", &active),
            FiscalVerdict::Pass
        );
        assert_eq!(
            evaluate_lookup(policy, "Alfa Digital Serviços Ltda", &alnum),
            FiscalVerdict::Pass
        );
    }
    // Off: nothing is checked.
    assert_eq!(
        evaluate_lookup(FiscalPolicy::Off, "Qualquer Nome", &closed),
        FiscalVerdict::Pass
    );
    // Closed company: warn or block.
    let v = evaluate_lookup(FiscalPolicy::Warn, "Mercearia Boa Vista", &closed);
    assert!(
        matches!(&v, FiscalVerdict::Warn(f) if matches!(f.as_slice(), [Finding::NotActive { status: RegistrationStatus::Closed, source, .. }] if source == "minha_receita"))
    );
    let v = evaluate_lookup(FiscalPolicy::Block, "Mercearia Boa Vista", &closed);
    assert!(!v.allows());
    // Another name: warn or block.
    let v = evaluate_lookup(FiscalPolicy::Warn, "Telefonia São Pedro", &active);
    assert!(v.allows());
    assert!(matches!(v.findings(), [Finding::NameMismatch { .. }]));
    let v = evaluate_lookup(FiscalPolicy::Block, "Telefonia São Pedro", &active);
    assert!(matches!(&v, FiscalVerdict::Block(f) if f.len() == 1));
    // Not registered at all.
    let v = evaluate_lookup(FiscalPolicy::Block, "Telefonia São João", &nobody);
    assert_eq!(
        v,
        FiscalVerdict::Block(vec![Finding::NotRegistered {
            source: "minha_receita".into()
        }])
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn enrichment_from_sandbox_lookups() {
    let sb = sandbox().await;
    let client = chain(&sb, &[Provider::BrasilApi, Provider::ViaCep])
        .build()
        .unwrap();
    let company = client
        .lookup_cnpj_text(ACTIVE)
        .await
        .unwrap()
        .found()
        .unwrap();
    let cep = client
        .lookup_cep_text("01226-010")
        .await
        .unwrap()
        .found()
        .unwrap();
    let raw = RawAddress {
        cep: Some("01226-010".into()),
        ..RawAddress::default()
    };
    let sources: [&dyn AddressSource; 2] = [&cep, &company];
    let e = enrich(&raw, &sources);
    assert_eq!(e.address.street.as_deref(), Some("Rua das Palmeiras"));
    assert_eq!(e.address.number.as_deref(), Some("120"));
    assert_eq!(e.address.district.as_deref(), Some("Santa Cecília"));
    assert_eq!(e.address.city.as_deref(), Some("São Paulo"));
    assert_eq!(e.address.uf.as_deref(), Some("SP"));
    let p: Vec<(&str, &str, &str)> = e
        .provenance
        .iter()
        .map(|p| {
            (
                p.field.as_str(),
                p.source_provider.as_str(),
                p.source_field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        p,
        [
            ("customer.address.street", "via_cep", "logradouro"),
            ("customer.address.number", "brasil_api", "numero"),
            ("customer.address.district", "via_cep", "bairro"),
            ("customer.address.city", "via_cep", "localidade"),
            ("customer.address.uf", "via_cep", "uf"),
        ]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_state_and_fault_api_over_http() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    let base = sb.server().base_url();
    let spec = serde_json::json!({"kind": {"type": "http_error", "status": 503}, "target": {"call": "minha_receita"}});
    let r = http
        .post(format!("{base}_sandbox/faults"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let client = chain(&sb, &[Provider::MinhaReceita, Provider::BrasilApi])
        .build()
        .unwrap();
    assert_eq!(source(&client, ACTIVE).await, Provider::BrasilApi);
    let state: serde_json::Value = http
        .get(format!("{base}_sandbox/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["sandbox"], "fiscal");
    assert!(
        state["records"]["companies"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(ALPHANUMERIC))
    );
    assert_eq!(state["counters"]["lookup.brasil_api"][ACTIVE], 1);
    assert_eq!(state["injected"]["http_error"], 1);
    sb.shutdown().await;
}

/// The sandbox renders each company in four wire formats; the client must read the same
/// company back from each (what a provider lacks, such as ReceitaWS's status code, aside).
#[tokio::test]
async fn every_cnpj_provider_reads_back_the_same_company() {
    let sb = sandbox().await;
    let cnpj_providers = [
        Provider::BrasilApi,
        Provider::MinhaReceita,
        Provider::ReceitaWs,
        Provider::Cnpja,
    ];
    for seeded in sig_fiscal::sandbox::demo_companies() {
        for provider in cnpj_providers {
            let client = chain(&sb, &[provider]).build().unwrap();
            let got = client
                .lookup_cnpj(&seeded.cnpj)
                .await
                .unwrap()
                .found()
                .unwrap();
            let at = format!("{} via {provider}", seeded.cnpj);
            assert_eq!(got.source, provider, "{at}");
            assert_eq!(got.cnpj, seeded.cnpj, "{at}");
            assert_eq!(got.legal_name, seeded.legal_name, "{at}");
            assert_eq!(got.trade_name, seeded.trade_name, "{at}");
            assert_eq!(got.registration.status, seeded.registration.status, "{at}");
            assert_eq!(got.registration.since, seeded.registration.since, "{at}");
            assert_eq!(got.opening_date, seeded.opening_date, "{at}");
            assert_eq!(got.main_activity, seeded.main_activity, "{at}");
            assert_eq!(
                got.secondary_activities, seeded.secondary_activities,
                "{at}"
            );
            assert_eq!(got.legal_nature, seeded.legal_nature, "{at}");
            let (a, b) = (&got.address, &seeded.address);
            assert_eq!(a.street, b.street, "{at}");
            assert_eq!(a.number, b.number, "{at}");
            assert_eq!(a.complement, b.complement, "{at}");
            assert_eq!(a.district, b.district, "{at}");
            assert_eq!(a.city, b.city, "{at}");
            assert_eq!(a.uf, b.uf, "{at}");
            assert_eq!(a.cep, b.cep, "{at}");
            assert_eq!(got.phones, seeded.phones, "{at}");
            assert_eq!(got.email, seeded.email, "{at}");
            assert_eq!(got.capital_social, seeded.capital_social, "{at}");
            let names = |r: &sig_fiscal::CompanyRecord| {
                r.partners
                    .iter()
                    .map(|p| p.name.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&got), names(&seeded), "{at}");
        }
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn concurrent_lookups_of_one_key_make_one_call() {
    let sb = sandbox().await;
    sb.faults()
        .add(
            FaultSpec::always(FaultKind::latency(Duration::from_millis(100))).on_call("brasil_api"),
        )
        .unwrap();
    let client = chain(&sb, &[Provider::BrasilApi])
        .cache(CacheConfig::default())
        .build()
        .unwrap();
    let (a, b, c, d) = tokio::join!(
        client.lookup_cnpj_text(ACTIVE),
        client.lookup_cnpj_text(ACTIVE),
        client.lookup_cnpj_text(ACTIVE),
        client.lookup_cnpj_text(CLOSED),
    );
    for answer in [a, b, c, d] {
        assert!(answer.unwrap().found().is_some());
    }
    assert_eq!(sb.served(Provider::BrasilApi, ACTIVE), 1);
    assert_eq!(sb.served(Provider::BrasilApi, CLOSED), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_port_answers_with_the_pipeline_records_from_a_sig_toml_chain() {
    use sig_core::config::FiscalConfig;
    use sig_core::fiscal::{AddressField, FiscalAnswer};
    use sig_fiscal::{ConfigError, FiscalLookup, LookupKind};

    let sb = sandbox().await;
    // `[fiscal]` with its defaults, every provider pointed at the sandbox.
    let mut config = FiscalConfig::default();
    for p in Provider::ALL {
        config
            .base_urls
            .insert(p.as_str().to_owned(), sb.base_url(p));
    }
    let client = FiscalClientBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        client.providers(LookupKind::Cnpj),
        [
            Provider::BrasilApi,
            Provider::MinhaReceita,
            Provider::ReceitaWs
        ]
    );
    assert_eq!(
        client.providers(LookupKind::Cep),
        [Provider::ViaCep, Provider::BrasilApiCep]
    );
    let port: &dyn FiscalLookup = &client;

    let FiscalAnswer::Found(c) = port
        .company_by_cnpj(&ACTIVE.parse().unwrap())
        .await
        .unwrap()
    else {
        panic!("registered")
    };
    assert_eq!(c.source, "brasil_api");
    assert_eq!(c.legal_name, "TELEFONIA SAO JOAO LTDA");
    assert_eq!(c.status, RegistrationStatus::Active);
    assert_eq!(c.address.district.as_deref(), Some("SANTA CECILIA"));
    assert_eq!(c.source_fields[&AddressField::District], "bairro");
    assert_eq!(
        port.company_by_cnpj(&NOBODY.parse().unwrap())
            .await
            .unwrap(),
        FiscalAnswer::NotFound {
            source: "brasil_api".into()
        }
    );
    let FiscalAnswer::Found(cep) = port
        .address_by_cep(&"01226010".parse().unwrap())
        .await
        .unwrap()
    else {
        panic!("known CEP")
    };
    assert_eq!(cep.source, "via_cep");
    assert_eq!(cep.district.as_deref(), Some("Santa Cecília"));
    assert_eq!(cep.source_fields[&AddressField::Street], "logradouro");

    // Every CNPJ provider down: one upstream error, System::Fiscal, retryable.
    for p in ["brasil_api", "minha_receita", "receita_ws"] {
        sb.faults()
            .add(FaultSpec::always(FaultKind::http_error(503)).on_call(p))
            .unwrap();
    }
    let e = port
        .company_by_cnpj(&CLOSED.parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.system, System::Fiscal);
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.record.as_deref(), Some(CLOSED));

    // A configuration built by hand with a name nobody knows.
    config.cep_providers.push("correios".into());
    assert!(matches!(
        FiscalClientBuilder::from_config(&config),
        Err(ConfigError::UnknownProvider(_))
    ));
    sb.shutdown().await;
}
