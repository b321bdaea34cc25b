//! Every provider's recorded answers (success, 400, 404, 429 and their variants), served by
//! mockito, decoded through the real client into the domain records and errors.

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use mockito::{Matcher, Server, ServerGuard};
use rust_decimal::Decimal;
use secrecy::SecretString;
use sig_core::{Cep, Cnpj, Uf};
use sig_fiscal::{
    CacheConfig, CepRecord, CompanyRecord, FiscalClient, FiscalError, Lookup, LookupKind, Provider,
    ProviderConfig, ProviderError, ProviderErrorKind, RegistrationStatus,
};
use url::Url;

const CNPJA_KEY: &str = "0123456789abcdef-0123456789abcdef-0123456789abcdef-0123456789abcdef-01234";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/resources/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn client(server: &ServerGuard, provider: Provider) -> FiscalClient {
    let mut config = ProviderConfig::new(provider)
        .base_url(Url::parse(&server.url()).unwrap())
        .no_rate_limit();
    if provider.needs_api_key() {
        config = config.api_key(SecretString::from(CNPJA_KEY));
    }
    let builder = FiscalClient::builder()
        .cache(CacheConfig::disabled())
        .timeout(Duration::from_secs(5));
    match provider.kind() {
        LookupKind::Cnpj => builder.cnpj_provider(config),
        LookupKind::Cep => builder.cep_provider(config),
    }
    .build()
    .unwrap()
}

fn cnpj(s: &str) -> Cnpj {
    s.parse().unwrap()
}

fn cep(s: &str) -> Cep {
    s.parse().unwrap()
}

/// Serves one answer at `path` and looks `key` up with the one-provider client.
async fn company(
    provider: Provider,
    path: &str,
    key: &str,
    status: usize,
    body: &str,
) -> Result<Lookup<CompanyRecord>, FiscalError> {
    let mut server = Server::new_async().await;
    let mut mock = server
        .mock("GET", path)
        .match_header("accept", "application/json")
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_header("retry-after", "30")
        .with_body(body);
    if provider == Provider::Cnpja {
        mock = mock.match_header("authorization", CNPJA_KEY);
    }
    let mock = mock.expect(1).create_async().await;
    let answer = client(&server, provider).lookup_cnpj(&cnpj(key)).await;
    mock.assert_async().await;
    answer
}

async fn address(
    provider: Provider,
    path: &str,
    key: &str,
    status: usize,
    body: &str,
) -> Result<Lookup<CepRecord>, FiscalError> {
    let mut server = Server::new_async().await;
    let mock = server
        .mock("GET", path)
        .with_status(status)
        .with_body(body)
        .expect(1)
        .create_async()
        .await;
    let answer = client(&server, provider).lookup_cep(&cep(key)).await;
    mock.assert_async().await;
    answer
}

fn found<T: std::fmt::Debug>(answer: Result<Lookup<T>, FiscalError>) -> T {
    match answer {
        Ok(Lookup::Found(t)) => t,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(answer: Result<Lookup<T>, FiscalError>, provider: Provider) {
    match answer {
        Ok(Lookup::NotFound { provider: p }) => assert_eq!(p, provider),
        other => panic!("expected not found, got {other:?}"),
    }
}

/// The single failure of a one-provider chain; checks it names the provider.
fn failure<T: std::fmt::Debug>(
    answer: Result<Lookup<T>, FiscalError>,
    provider: Provider,
    kind: ProviderErrorKind,
    status: Option<u16>,
) -> ProviderError {
    let error = answer.expect_err("expected a failure");
    let text = error.to_string();
    assert!(text.contains(provider.as_str()), "{text}");
    let FiscalError::AllProvidersFailed { attempts, .. } = error else {
        panic!("expected AllProvidersFailed, got {error:?}");
    };
    assert_eq!(attempts.len(), 1);
    let attempt = attempts.into_iter().next().unwrap();
    assert_eq!(attempt.provider, provider);
    assert_eq!(attempt.kind, kind, "{attempt}");
    assert_eq!(attempt.status, status);
    attempt
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

// ---------------------------------------------------------------------------------------------
// BrasilAPI CNPJ

#[tokio::test]
async fn brasilapi_cnpj_success_maps_every_field() {
    let body = fixture("brasilapi_cnpj_200.json");
    let r = found(
        company(
            Provider::BrasilApi,
            "/api/cnpj/v1/19131243000197",
            "19.131.243/0001-97",
            200,
            &body,
        )
        .await,
    );
    assert_eq!(r.cnpj.as_str(), "19131243000197");
    assert_eq!(r.source, Provider::BrasilApi);
    assert_eq!(r.legal_name, "OPEN KNOWLEDGE BRASIL");
    assert_eq!(
        r.trade_name.as_deref(),
        Some("REDE PELO CONHECIMENTO LIVRE")
    );
    assert_eq!(r.registration.status, RegistrationStatus::Active);
    assert_eq!(r.registration.code, Some(2));
    assert_eq!(r.registration.description.as_deref(), Some("ATIVA"));
    assert_eq!(r.registration.since, date(2013, 10, 3));
    assert_eq!(r.registration.reason.as_deref(), Some("SEM MOTIVO"));
    assert!(r.is_active());
    assert_eq!(r.opening_date, date(2013, 10, 3));
    let main = r.main_activity.as_ref().unwrap();
    assert_eq!(main.code, "9430800");
    assert_eq!(
        main.description.as_deref(),
        Some("Atividades de associações de defesa de direitos sociais")
    );
    let secondary: Vec<&str> = r
        .secondary_activities
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(secondary, ["9493600", "9499500", "8599699"]);
    let nature = r.legal_nature.as_ref().unwrap();
    assert_eq!(nature.code.as_deref(), Some("3999"));
    assert_eq!(nature.description.as_deref(), Some("Associação Privada"));
    let a = &r.address;
    assert_eq!(a.street_type.as_deref(), Some("AVENIDA"));
    assert_eq!(a.street.as_deref(), Some("AVENIDA PAULISTA 37"));
    assert_eq!(a.number.as_deref(), Some("37"));
    assert_eq!(a.complement.as_deref(), Some("ANDAR 4"));
    assert_eq!(a.district.as_deref(), Some("BELA VISTA"));
    assert_eq!(a.city.as_deref(), Some("SAO PAULO"));
    assert_eq!(a.city_ibge_code.as_deref(), Some("3550308"));
    assert_eq!(a.uf, Some(Uf::SP));
    assert_eq!(a.cep, Some(cep("01311902")));
    let phones: Vec<String> = r.phones.iter().map(|p| p.e164()).collect();
    assert_eq!(phones, ["+551123851939"]);
    assert_eq!(
        r.email.as_ref().map(|e| e.as_str()),
        Some("contato@ok.org.br")
    );
    assert_eq!(r.partners.len(), 1);
    assert_eq!(r.partners[0].name, "FERNANDA CAMPAGNUCCI PEREIRA");
    assert_eq!(r.partners[0].role.as_deref(), Some("Presidente"));
    assert_eq!(r.partners[0].since, date(2021, 4, 29));
    assert_eq!(r.capital_social, Some(Decimal::ZERO));
}

#[tokio::test]
async fn brasilapi_cnpj_errors() {
    let path = "/api/cnpj/v1/11222333000181";
    let key = "11222333000181";
    let e = failure(
        company(
            Provider::BrasilApi,
            path,
            key,
            400,
            &fixture("brasilapi_cnpj_400.json"),
        )
        .await,
        Provider::BrasilApi,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    assert!(e.message.contains("inválido"), "{e}");
    not_found(
        company(
            Provider::BrasilApi,
            path,
            key,
            404,
            &fixture("brasilapi_cnpj_404.json"),
        )
        .await,
        Provider::BrasilApi,
    );
    let e = failure(
        company(
            Provider::BrasilApi,
            path,
            key,
            429,
            &fixture("brasilapi_429.json"),
        )
        .await,
        Provider::BrasilApi,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    assert!(e.kind.is_retryable());
}

#[tokio::test]
async fn a_404_without_the_providers_json_is_not_an_answer() {
    let answer = company(
        Provider::BrasilApi,
        "/api/cnpj/v1/11222333000181",
        "11222333000181",
        404,
        "<html><body>404 Not Found</body></html>",
    )
    .await;
    failure(
        answer,
        Provider::BrasilApi,
        ProviderErrorKind::Malformed,
        Some(404),
    );
}

#[tokio::test]
async fn malformed_json_names_the_path() {
    let answer = company(
        Provider::BrasilApi,
        "/api/cnpj/v1/11222333000181",
        "11222333000181",
        200,
        r#"{"razao_social": "ACME", "qsa": [{"nome_socio": "A"}, 7]}"#,
    )
    .await;
    let e = failure(
        answer,
        Provider::BrasilApi,
        ProviderErrorKind::Malformed,
        Some(200),
    );
    assert!(e.message.contains("qsa[1]"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Minha Receita

#[tokio::test]
async fn minhareceita_success_closed_company_with_blanks() {
    let r = found(
        company(
            Provider::MinhaReceita,
            "/11222333000181",
            "11222333000181",
            200,
            &fixture("minhareceita_200.json"),
        )
        .await,
    );
    assert_eq!(r.source, Provider::MinhaReceita);
    assert_eq!(r.legal_name, "MERCEARIA BOA VISTA LTDA");
    assert_eq!(r.trade_name, None, "empty string is absent");
    assert_eq!(r.registration.status, RegistrationStatus::Closed);
    assert_eq!(r.registration.code, Some(8));
    assert!(!r.is_active());
    assert_eq!(
        r.registration.reason.as_deref(),
        Some("EXTINCAO POR ENCERRAMENTO LIQUIDACAO VOLUNTARIA")
    );
    assert_eq!(r.opening_date, date(2009, 3, 2));
    assert_eq!(r.main_activity.as_ref().unwrap().code, "4712100");
    assert!(
        r.secondary_activities.is_empty(),
        "the 0 placeholder is no activity"
    );
    assert_eq!(
        r.legal_nature.as_ref().unwrap().description.as_deref(),
        Some("Sociedade Empresária Limitada")
    );
    assert_eq!(r.address.street.as_deref(), Some("RUA DAS FLORES"));
    assert_eq!(r.address.number.as_deref(), Some("S/N"));
    assert_eq!(r.address.complement, None);
    assert_eq!(r.address.uf, Some(Uf::MG));
    assert_eq!(r.address.cep, Some(cep("30130-010")));
    assert_eq!(r.phones.len(), 2);
    assert_eq!(r.email, None);
    assert!(r.partners.is_empty(), "null qsa");
    assert_eq!(
        r.capital_social,
        Some(Decimal::from_str("15000.5").unwrap())
    );
}

#[tokio::test]
async fn minhareceita_errors() {
    let path = "/11222333000181";
    let key = "11222333000181";
    failure(
        company(
            Provider::MinhaReceita,
            path,
            key,
            400,
            &fixture("minhareceita_400.json"),
        )
        .await,
        Provider::MinhaReceita,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    not_found(
        company(
            Provider::MinhaReceita,
            path,
            key,
            404,
            &fixture("minhareceita_404.json"),
        )
        .await,
        Provider::MinhaReceita,
    );
    failure(
        company(Provider::MinhaReceita, path, key, 429, "").await,
        Provider::MinhaReceita,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
}

// ---------------------------------------------------------------------------------------------
// ReceitaWS

#[tokio::test]
async fn receitaws_success_reads_its_own_schema() {
    let r = found(
        company(
            Provider::ReceitaWs,
            "/v1/cnpj/11222333000181",
            "11222333000181",
            200,
            &fixture("receitaws_200.json"),
        )
        .await,
    );
    assert_eq!(r.source, Provider::ReceitaWs);
    assert_eq!(r.legal_name, "TELEFONIA SAO JOAO LTDA");
    assert_eq!(r.trade_name.as_deref(), Some("SAO JOAO TELECOM"));
    assert_eq!(r.registration.status, RegistrationStatus::Active);
    assert_eq!(r.registration.code, None);
    assert_eq!(r.registration.since, date(2009, 3, 2));
    assert_eq!(r.opening_date, date(2009, 3, 2));
    assert_eq!(r.main_activity.as_ref().unwrap().code, "6190601");
    assert!(
        r.secondary_activities.is_empty(),
        "00.00-0-00 is no activity"
    );
    let nature = r.legal_nature.as_ref().unwrap();
    assert_eq!(nature.code.as_deref(), Some("2062"));
    assert_eq!(
        nature.description.as_deref(),
        Some("Sociedade Empresária Limitada")
    );
    assert_eq!(r.address.street.as_deref(), Some("R DAS PALMEIRAS"));
    assert_eq!(r.address.cep, Some(cep("01226010")));
    assert_eq!(r.address.uf, Some(Uf::SP));
    let phones: Vec<String> = r.phones.iter().map(|p| p.e164()).collect();
    assert_eq!(phones, ["+551134567890", "+5511987654321"]);
    assert_eq!(
        r.email.as_ref().map(|e| e.as_str()),
        Some("financeiro@saojoaotelecom.com.br")
    );
    assert_eq!(r.partners[0].name, "JOAO DA SILVA");
    assert_eq!(
        r.partners[0].role.as_deref(),
        Some("49-Sócio-Administrador")
    );
    assert_eq!(r.capital_social, Some(Decimal::from(50_000)));
}

#[tokio::test]
async fn receitaws_errors_in_the_body_and_by_status() {
    let path = "/v1/cnpj/11222333000181";
    let key = "11222333000181";
    // Its usual shape: HTTP 200 with status ERROR.
    failure(
        company(
            Provider::ReceitaWs,
            path,
            key,
            200,
            &fixture("receitaws_400.json"),
        )
        .await,
        Provider::ReceitaWs,
        ProviderErrorKind::Rejected,
        Some(200),
    );
    not_found(
        company(
            Provider::ReceitaWs,
            path,
            key,
            200,
            &fixture("receitaws_404.json"),
        )
        .await,
        Provider::ReceitaWs,
    );
    // The same bodies under 400 and 404.
    failure(
        company(
            Provider::ReceitaWs,
            path,
            key,
            400,
            &fixture("receitaws_400.json"),
        )
        .await,
        Provider::ReceitaWs,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    not_found(
        company(
            Provider::ReceitaWs,
            path,
            key,
            404,
            &fixture("receitaws_404.json"),
        )
        .await,
        Provider::ReceitaWs,
    );
    failure(
        company(
            Provider::ReceitaWs,
            path,
            key,
            429,
            &fixture("receitaws_429.html"),
        )
        .await,
        Provider::ReceitaWs,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
    failure(
        company(
            Provider::ReceitaWs,
            path,
            key,
            200,
            r#"{"status":"ERROR","message":"Timeout"}"#,
        )
        .await,
        Provider::ReceitaWs,
        ProviderErrorKind::Unavailable,
        Some(200),
    );
}

// ---------------------------------------------------------------------------------------------
// CNPJá

#[tokio::test]
async fn cnpja_success_sends_the_key_and_maps_every_field() {
    let r = found(
        company(
            Provider::Cnpja,
            "/office/37335118000180",
            "37335118000180",
            200,
            &fixture("cnpja_200.json"),
        )
        .await,
    );
    assert_eq!(r.source, Provider::Cnpja);
    assert_eq!(r.legal_name, "CNPJA TECNOLOGIA LTDA");
    assert_eq!(r.trade_name.as_deref(), Some("CNPJá"));
    assert_eq!(r.registration.status, RegistrationStatus::Active);
    assert_eq!(r.registration.code, Some(2));
    assert_eq!(r.registration.description.as_deref(), Some("Ativa"));
    assert_eq!(r.opening_date, date(2020, 6, 5));
    assert_eq!(r.main_activity.as_ref().unwrap().code, "6311900");
    assert_eq!(r.secondary_activities[0].code, "6201501");
    assert_eq!(
        r.legal_nature.as_ref().unwrap().code.as_deref(),
        Some("2062")
    );
    assert_eq!(
        r.address.street.as_deref(),
        Some("Avenida Sete de Setembro")
    );
    assert_eq!(r.address.complement.as_deref(), Some("Sala 1"));
    assert_eq!(r.address.city_ibge_code.as_deref(), Some("4106902"));
    assert_eq!(r.address.uf, Some(Uf::PR));
    assert_eq!(r.address.cep, Some(cep("80230010")));
    assert_eq!(r.phones[0].e164(), "+554132221234");
    assert_eq!(
        r.email.as_ref().map(|e| e.as_str()),
        Some("contato@cnpja.com")
    );
    assert_eq!(r.partners[0].name, "MARIA OLIVEIRA");
    assert_eq!(r.partners[0].role.as_deref(), Some("Sócio-Administrador"));
    assert_eq!(r.capital_social, Some(Decimal::from(1000)));
}

#[tokio::test]
async fn cnpja_errors_tell_credits_from_rate() {
    let path = "/office/37335118000180";
    let key = "37335118000180";
    failure(
        company(Provider::Cnpja, path, key, 400, &fixture("cnpja_400.json")).await,
        Provider::Cnpja,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    failure(
        company(Provider::Cnpja, path, key, 401, &fixture("cnpja_401.json")).await,
        Provider::Cnpja,
        ProviderErrorKind::Unauthorized,
        Some(401),
    );
    not_found(
        company(Provider::Cnpja, path, key, 404, &fixture("cnpja_404.json")).await,
        Provider::Cnpja,
    );
    let credits = failure(
        company(
            Provider::Cnpja,
            path,
            key,
            429,
            &fixture("cnpja_429_credits.json"),
        )
        .await,
        Provider::Cnpja,
        ProviderErrorKind::OutOfCredits,
        Some(429),
    );
    assert!(
        !credits.kind.is_retryable(),
        "waiting does not bring credits"
    );
    assert!(
        credits.message.contains("required 10, remaining 7"),
        "{credits}"
    );
    let rate = failure(
        company(
            Provider::Cnpja,
            path,
            key,
            429,
            &fixture("cnpja_429_rate.json"),
        )
        .await,
        Provider::Cnpja,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
    assert!(rate.kind.is_retryable());
    assert_eq!(rate.retry_after, Some(Duration::from_secs(30)));
}

// ---------------------------------------------------------------------------------------------
// ViaCEP

#[tokio::test]
async fn viacep_success_and_not_found_in_both_forms() {
    let r = found(
        address(
            Provider::ViaCep,
            "/ws/01001000/json/",
            "01001-000",
            200,
            &fixture("viacep_200.json"),
        )
        .await,
    );
    assert_eq!(r.cep, cep("01001000"));
    assert_eq!(r.source, Provider::ViaCep);
    assert_eq!(r.street.as_deref(), Some("Praça da Sé"));
    assert_eq!(r.complement.as_deref(), Some("lado ímpar"));
    assert_eq!(r.district.as_deref(), Some("Sé"));
    assert_eq!(r.city.as_deref(), Some("São Paulo"));
    assert_eq!(r.uf, Some(Uf::SP));
    assert_eq!(r.city_ibge_code.as_deref(), Some("3550308"));
    for body in ["viacep_erro_string.json", "viacep_erro_bool.json"] {
        not_found(
            address(
                Provider::ViaCep,
                "/ws/99999999/json/",
                "99999999",
                200,
                &fixture(body),
            )
            .await,
            Provider::ViaCep,
        );
    }
}

#[tokio::test]
async fn viacep_errors() {
    let path = "/ws/01001000/json/";
    failure(
        address(
            Provider::ViaCep,
            path,
            "01001000",
            400,
            &fixture("viacep_400.html"),
        )
        .await,
        Provider::ViaCep,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    // ViaCEP has no 404 for an unknown CEP (that is 200 + erro); a 404 is a routing failure.
    failure(
        address(
            Provider::ViaCep,
            path,
            "01001000",
            404,
            "<html>Not Found</html>",
        )
        .await,
        Provider::ViaCep,
        ProviderErrorKind::Malformed,
        Some(404),
    );
    failure(
        address(Provider::ViaCep, path, "01001000", 429, "").await,
        Provider::ViaCep,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
    // An answer about another CEP is not trusted.
    failure(
        address(
            Provider::ViaCep,
            path,
            "01001000",
            200,
            r#"{"cep": "01002-000", "uf": "SP"}"#,
        )
        .await,
        Provider::ViaCep,
        ProviderErrorKind::Malformed,
        Some(200),
    );
}

// ---------------------------------------------------------------------------------------------
// BrasilAPI CEP v2

#[tokio::test]
async fn brasilapi_cep_success_and_errors() {
    let r = found(
        address(
            Provider::BrasilApiCep,
            "/api/cep/v2/89010025",
            "89010-025",
            200,
            &fixture("brasilapi_cep_200.json"),
        )
        .await,
    );
    assert_eq!(r.source, Provider::BrasilApiCep);
    assert_eq!(
        r.street.as_deref(),
        Some("Rua Doutor Luiz de Freitas Melro")
    );
    assert_eq!(r.district.as_deref(), Some("Centro"));
    assert_eq!(r.city.as_deref(), Some("Blumenau"));
    assert_eq!(r.uf, Some(Uf::SC));
    let path = "/api/cep/v2/89010025";
    failure(
        address(
            Provider::BrasilApiCep,
            path,
            "89010025",
            400,
            &fixture("brasilapi_cep_400.json"),
        )
        .await,
        Provider::BrasilApiCep,
        ProviderErrorKind::Rejected,
        Some(400),
    );
    not_found(
        address(
            Provider::BrasilApiCep,
            path,
            "89010025",
            404,
            &fixture("brasilapi_cep_404.json"),
        )
        .await,
        Provider::BrasilApiCep,
    );
    failure(
        address(
            Provider::BrasilApiCep,
            path,
            "89010025",
            429,
            &fixture("brasilapi_429.json"),
        )
        .await,
        Provider::BrasilApiCep,
        ProviderErrorKind::RateLimited,
        Some(429),
    );
    failure(
        address(Provider::BrasilApiCep, path, "89010025", 500, r#"{"name":"CepPromiseError","message":"Todos os serviços de CEP retornaram erro.","type":"service_error"}"#).await,
        Provider::BrasilApiCep,
        ProviderErrorKind::Unavailable,
        Some(500),
    );
}

// ---------------------------------------------------------------------------------------------
// Input is validated before any call.

#[tokio::test]
async fn invalid_input_makes_no_call() {
    let mut server = Server::new_async().await;
    let mock = server
        .mock("GET", Matcher::Any)
        .with_status(200)
        .expect(0)
        .create_async()
        .await;
    let url = Url::parse(&server.url()).unwrap();
    let client = FiscalClient::builder()
        .cnpj_provider(ProviderConfig::new(Provider::BrasilApi).base_url(url.clone()))
        .cep_provider(ProviderConfig::new(Provider::ViaCep).base_url(url))
        .build()
        .unwrap();
    for bad in ["11.222.333/0001-82", "123", "", "00000000000000"] {
        let e = client.lookup_cnpj_text(bad).await.unwrap_err();
        assert!(
            matches!(
                e,
                FiscalError::InvalidInput {
                    lookup: LookupKind::Cnpj,
                    ..
                }
            ),
            "{bad}: {e:?}"
        );
        assert!(!e.is_retryable());
    }
    for bad in ["0100100", "01001-00a", "00000-000"] {
        let e = client.lookup_cep_text(bad).await.unwrap_err();
        assert!(
            matches!(
                e,
                FiscalError::InvalidInput {
                    lookup: LookupKind::Cep,
                    ..
                }
            ),
            "{bad}"
        );
    }
    mock.assert_async().await;
}

#[tokio::test]
async fn alphanumeric_cnpj_is_sent_canonical() {
    let mut server = Server::new_async().await;
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("brasilapi_cnpj_200.json")).unwrap();
    body["cnpj"] = "12ABC34501DE35".into();
    let mock = server
        .mock("GET", "/api/cnpj/v1/12ABC34501DE35")
        .with_status(200)
        .with_body(body.to_string())
        .expect(1)
        .create_async()
        .await;
    let r = found(
        client(&server, Provider::BrasilApi)
            .lookup_cnpj_text("12.abc.345/01de-35")
            .await,
    );
    assert_eq!(r.cnpj.as_str(), "12ABC34501DE35");
    mock.assert_async().await;
}
