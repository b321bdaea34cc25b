//! mockito tests: the exact request body of every call, fault handling by body, retries
//! by hit count, pagination, the misuse breaker, and the Erp port's call sequences.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use common::{client, envelope};
use futures::TryStreamExt;
use mockito::{Matcher, Mock, Server, ServerGuard};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sig_core::ids::{CustomerId, ServiceOrderId};
use sig_core::ports::{
    Attempt, ContractRequest, CustomerLookup, Erp, ErpCustomer, UpstreamErrorKind,
};
use sig_omie::wire::clientes::{
    ClienteCadastro, ClienteChave, ClientesFiltro, ClientesListRequest, ListarClientes,
};
use sig_omie::wire::contratos::{
    BillingPeriod, ContractSituation, ContratoCabecalho, ContratoCadastro, ContratoChave,
    ItemCabecalho, ItemContrato, ListarContratos,
};
use sig_omie::wire::servicos::{ListarCadastroServico, ServicoChave};
use sig_omie::wire::{Flag, OmieDate};
use sig_omie::{BreakerState, FaultClass, OmieErp, OmieError};

/// Any request no expectation matched gets a fault that says so (never retried, and the
/// test's `expect(0)` on it fails loudly).
async fn not_received(server: &mut ServerGuard) -> Mock {
    server
        .mock("POST", Matcher::Any)
        .with_status(500)
        .with_body(
            json!({"faultstring": "TEST: this request was not expected by the test", "faultcode": "SOAP-ENV:Client-TEST"})
                .to_string(),
        )
        .expect(0)
        .create_async()
        .await
}

async fn expect(
    server: &mut ServerGuard,
    path: &str,
    call: &str,
    param: Value,
    status: usize,
    answer: Value,
) -> Mock {
    server
        .mock("POST", path)
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(envelope(call, param)))
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(answer.to_string())
        .expect(1)
        .create_async()
        .await
}

fn status_ok(id: i64, code: &str) -> Value {
    json!({"codigo_cliente_omie": id, "codigo_cliente_integracao": code, "codigo_status": "0", "descricao_status": "Cliente cadastrado com sucesso!"})
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/resources/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cadastro() -> ClienteCadastro {
    ClienteCadastro {
        codigo_cliente_integracao: Some("SIG-1".into()),
        razao_social: Some("ACME LTDA".into()),
        cnpj_cpf: Some("123.456.789-09".into()),
        email: Some("a@example.com".into()),
        contribuinte: Some(Flag::N),
        ..ClienteCadastro::default()
    }
}

fn cadastro_json() -> Value {
    json!({"codigo_cliente_integracao": "SIG-1", "razao_social": "ACME LTDA", "cnpj_cpf": "123.456.789-09", "email": "a@example.com", "contribuinte": "N"})
}

#[tokio::test]
async fn customer_calls_send_exact_bodies() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let c = client(&server.url(), 0.01);
    let p = "/geral/clientes/";
    let mut mocks = Vec::new();
    for call in [
        "IncluirCliente",
        "AlterarCliente",
        "UpsertCliente",
        "UpsertClienteCpfCnpj",
    ] {
        mocks.push(
            expect(
                &mut server,
                p,
                call,
                cadastro_json(),
                200,
                status_ok(7, "SIG-1"),
            )
            .await,
        );
    }
    mocks.push(
        expect(
            &mut server,
            p,
            "ConsultarCliente",
            json!({"codigo_cliente_integracao": "SIG-1"}),
            200,
            fixture("clientes_cadastro.consultar.json"),
        )
        .await,
    );
    mocks.push(
        expect(
            &mut server,
            p,
            "ExcluirCliente",
            json!({"codigo_cliente_omie": 7}),
            200,
            status_ok(7, "SIG-1"),
        )
        .await,
    );
    mocks.push(
        expect(
            &mut server,
            p,
            "AssociarCodIntCliente",
            json!({"codigo_cliente_omie": 7, "codigo_cliente_integracao": "SIG-1"}),
            200,
            status_ok(7, "SIG-1"),
        )
        .await,
    );
    let list = json!({"pagina": 2, "registros_por_pagina": 50, "apenas_importado_api": "N",
        "filtrar_por_data_de": "01/03/2026", "clientesFiltro": {"cnpj_cpf": "123.456.789-09"}});
    mocks.push(
        expect(
            &mut server,
            p,
            "ListarClientes",
            list.clone(),
            200,
            fixture("clientes_listfull.page1.json"),
        )
        .await,
    );
    mocks.push(
        expect(
            &mut server,
            p,
            "ListarClientesResumido",
            list,
            200,
            fixture("clientes_resumido.page1.json"),
        )
        .await,
    );

    let cad = cadastro();
    assert_eq!(
        c.incluir_cliente(&cad).await.unwrap().codigo_cliente_omie,
        7
    );
    assert_eq!(c.alterar_cliente(&cad).await.unwrap().codigo_status, "0");
    c.upsert_cliente(&cad).await.unwrap();
    c.upsert_cliente_cpf_cnpj(&cad).await.unwrap();
    let got = c
        .consultar_cliente(&ClienteChave::integracao("SIG-1"))
        .await
        .unwrap();
    assert_eq!(got.codigo_cliente_omie, Some(2485967));
    assert_eq!(
        got.info.unwrap().dInc,
        Some(OmieDate(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()))
    );
    c.excluir_cliente(&ClienteChave::omie(7)).await.unwrap();
    c.associar_cod_int_cliente(&ClienteChave {
        codigo_cliente_omie: Some(7),
        codigo_cliente_integracao: Some("SIG-1".into()),
    })
    .await
    .unwrap();
    let req = ClientesListRequest {
        pagina: 2,
        registros_por_pagina: 50,
        apenas_importado_api: Some(Flag::N),
        filtrar_por_data_de: Some(OmieDate(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())),
        clientesFiltro: Some(ClientesFiltro {
            cnpj_cpf: Some("123.456.789-09".into()),
            ..ClientesFiltro::default()
        }),
        ..ClientesListRequest::default()
    };
    let page = c.listar_clientes(&req).await.unwrap();
    assert_eq!(page.clientes_cadastro.len(), 2);
    assert_eq!(page.clientes_cadastro[1].codigo_cliente_omie, Some(102));
    let page = c.listar_clientes_resumido(&req).await.unwrap();
    assert_eq!(page.clientes_cadastro_resumido[1].codigo_cliente, 102);
    for m in mocks {
        m.assert_async().await;
    }
    stray.assert_async().await;
}

fn contrato() -> ContratoCadastro {
    ContratoCadastro {
        cabecalho: ContratoCabecalho {
            cCodIntCtr: Some("ORD-1".into()),
            nCodCli: Some(7),
            cCodSit: Some(ContractSituation::Ativo),
            dVigInicial: Some(OmieDate(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())),
            nDiaFat: Some(10),
            cTipoFat: Some(BillingPeriod::Mensal),
            ..ContratoCabecalho::default()
        },
        itensContrato: vec![ItemContrato {
            itemCabecalho: ItemCabecalho {
                seq: Some(1),
                codServico: Some(9001),
                quant: Some(Decimal::ONE),
                valorUnit: Some(Decimal::new(19990, 2)),
                ..ItemCabecalho::default()
            },
            itemDescrServ: None,
        }],
        ..ContratoCadastro::default()
    }
}

fn contrato_json() -> Value {
    json!({"cabecalho": {"cCodIntCtr": "ORD-1", "nCodCli": 7, "cCodSit": "10", "dVigInicial": "01/03/2026", "nDiaFat": 10, "cTipoFat": "01"},
           "itensContrato": [{"itemCabecalho": {"seq": 1, "codServico": 9001, "quant": 1.0, "valorUnit": 199.9}}]})
}

#[tokio::test]
async fn contract_and_service_calls_send_exact_bodies() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let c = client(&server.url(), 0.01);
    let status = fixture("cs_status.incluir.json");
    let mut mocks = Vec::new();
    for call in ["IncluirContrato", "AlterarContrato", "UpsertContrato"] {
        mocks.push(
            expect(
                &mut server,
                "/servicos/contrato/",
                call,
                contrato_json(),
                200,
                status.clone(),
            )
            .await,
        );
    }
    mocks.push(
        expect(
            &mut server,
            "/servicos/contrato/",
            "ConsultarContrato",
            json!({"cCodIntCtr": "ORD-1"}),
            200,
            fixture("contrato_cadastro.consultar.json"),
        )
        .await,
    );
    mocks.push(
        expect(
            &mut server,
            "/servicos/contrato/",
            "ListarContratos",
            json!({"pagina": 1, "registros_por_pagina": 100, "filtrar_cliente": 7}),
            200,
            fixture("listar_contratos.page1.json"),
        )
        .await,
    );
    for call in [
        "SuspenderContrato",
        "AtivarContrato",
        "CancelarContrato",
        "ReativarContrato",
    ] {
        mocks.push(
            expect(
                &mut server,
                "/servicos/contratofat/",
                call,
                json!({"nCodCtr": 4411223}),
                200,
                status.clone(),
            )
            .await,
        );
    }
    mocks.push(
        expect(
            &mut server,
            "/servicos/servico/",
            "ConsultarCadastroServico",
            json!({"nCodServ": 9001}),
            200,
            fixture("servico_cadastro.consultar.json"),
        )
        .await,
    );
    mocks.push(
        expect(
            &mut server,
            "/servicos/servico/",
            "ListarCadastroServico",
            json!({"nPagina": 1, "nRegPorPagina": 100}),
            200,
            fixture("listar_cadastro_servico.page1.json"),
        )
        .await,
    );

    let k = contrato();
    assert_eq!(c.incluir_contrato(&k).await.unwrap().nCodCtr, 4411223);
    c.alterar_contrato(&k).await.unwrap();
    c.upsert_contrato(&k).await.unwrap();
    let got = c
        .consultar_contrato(&ContratoChave {
            cCodIntCtr: Some("ORD-1".into()),
            nCodCtr: None,
        })
        .await
        .unwrap();
    assert_eq!(got.cabecalho.nValTotMes, Some(Decimal::new(19990, 2)));
    let page = c
        .listar_contratos(&ListarContratos {
            filtrar_cliente: Some(7),
            ..ListarContratos::default()
        })
        .await
        .unwrap();
    assert_eq!(page.contratoCadastro.len(), 2);
    assert_eq!(
        page.contratoCadastro[1].cabecalho.cCodSit,
        Some(ContractSituation::Cancelado)
    );
    let key = ContratoChave {
        nCodCtr: Some(4411223),
        cCodIntCtr: None,
    };
    c.suspender_contrato(&key).await.unwrap();
    c.ativar_contrato(&key).await.unwrap();
    c.cancelar_contrato(&key).await.unwrap();
    c.reativar_contrato(&key).await.unwrap();
    let s = c
        .consultar_cadastro_servico(&ServicoChave {
            nCodServ: Some(9001),
            cCodIntServ: None,
        })
        .await
        .unwrap();
    assert_eq!(s.cabecalho.nPrecoUnit, Some(Decimal::new(19990, 2)));
    let page = c
        .listar_cadastro_servico(&ListarCadastroServico::default())
        .await
        .unwrap();
    assert_eq!(page.cadastros[0].intListar.nCodServ, Some(9001));
    for m in mocks {
        m.assert_async().await;
    }
    stray.assert_async().await;
}

#[tokio::test]
async fn a_fault_body_wins_over_a_200_status() {
    let mut server = Server::new_async().await;
    let m = expect(
        &mut server,
        "/geral/clientes/",
        "IncluirCliente",
        cadastro_json(),
        200,
        fixture("fault.duplicate_tax_id.json"),
    )
    .await;
    let c = client(&server.url(), 0.01);
    let e = c.incluir_cliente(&cadastro()).await.unwrap_err();
    assert_eq!(
        e.fault_class(),
        Some(&FaultClass::DuplicateTaxId {
            omie_id: Some(2485967),
            integration_code: Some("ERP-77".into())
        })
    );
    assert!(!e.maybe_applied());
    assert!(!e.is_retryable());
    assert_eq!(e.kind(), UpstreamErrorKind::Conflict);
    assert!(!e.to_string().contains("12.345.678"), "tax id leaked: {e}");
    m.assert_async().await;
}

#[tokio::test]
async fn a_read_is_retried_after_an_html_500_and_a_write_is_not() {
    let mut server = Server::new_async().await;
    let html = server
        .mock("POST", "/geral/clientes/")
        .match_body(Matcher::PartialJson(json!({"call": "ConsultarCliente"})))
        .with_status(500)
        .with_header("content-type", "text/html")
        .with_body("<html><body><h1>500 Internal Server Error</h1></body></html>")
        .expect(1)
        .create_async()
        .await;
    let ok = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 7}),
        200,
        json!({"codigo_cliente_omie": 7}),
    )
    .await;
    let c = client(&server.url(), 0.01);
    let got = c.consultar_cliente(&ClienteChave::omie(7)).await.unwrap();
    assert_eq!(got.codigo_cliente_omie, Some(7));
    html.assert_async().await;
    ok.assert_async().await;

    let write = server
        .mock("POST", "/geral/clientes/")
        .match_body(Matcher::PartialJson(json!({"call": "UpsertCliente"})))
        .with_status(502)
        .with_header("content-type", "text/html")
        .with_body("<html>bad gateway</html>")
        .expect(1)
        .create_async()
        .await;
    let e = c.upsert_cliente(&cadastro()).await.unwrap_err();
    assert!(matches!(e, OmieError::Http { status: 502, .. }), "{e:?}");
    assert!(
        e.maybe_applied(),
        "a 5xx after a write may have been applied"
    );
    assert!(e.is_retryable());
    assert_eq!(e.record(), Some("SIG-1"));
    write.assert_async().await;
}

#[tokio::test]
async fn malformed_json_after_a_write_is_ambiguous() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/geral/clientes/")
        .with_status(200)
        .with_body("{\"codigo_cliente_omie\": 12, \"codigo_st")
        .expect(1)
        .create_async()
        .await;
    let c = client(&server.url(), 0.01);
    let e = c.incluir_cliente(&cadastro()).await.unwrap_err();
    assert!(matches!(e, OmieError::Decode { .. }), "{e:?}");
    assert!(e.maybe_applied());
    assert_eq!(e.kind(), UpstreamErrorKind::Transient);
    m.assert_async().await;
}

#[tokio::test]
async fn a_decode_error_names_the_json_path() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/geral/clientes/")
        .with_status(200)
        .with_body(json!({"pagina": 1, "total_de_paginas": 1, "clientes_cadastro": [{"codigo_cliente_omie": 1}, {"codigo_cliente_omie": "x1"}]}).to_string())
        .expect(1)
        .create_async()
        .await;
    let c = client(&server.url(), 0.01);
    let e = c
        .listar_clientes(&ClientesListRequest::default())
        .await
        .unwrap_err();
    match &e {
        OmieError::Decode { path, .. } => {
            assert_eq!(path, "clientes_cadastro[1].codigo_cliente_omie")
        }
        other => panic!("{other:?}"),
    }
    m.assert_async().await;
}

#[tokio::test]
async fn redundant_on_a_read_waits_then_retries() {
    let mut server = Server::new_async().await;
    let busy = server
        .mock("POST", "/geral/clientes/")
        .with_status(500)
        .with_body(fixture("fault.redundant.json").to_string())
        .expect(1)
        .create_async()
        .await;
    let ok = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 7}),
        200,
        json!({"codigo_cliente_omie": 7}),
    )
    .await;
    let c = client(&server.url(), 0.01);
    let t = std::time::Instant::now();
    c.consultar_cliente(&ClienteChave::omie(7)).await.unwrap();
    // "Aguarde 43 segundos" at scale 0.01 is 0.43 s (+ margin).
    assert!(
        t.elapsed() >= Duration::from_millis(430),
        "{:?}",
        t.elapsed()
    );
    busy.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn redundant_refusals_do_not_use_up_a_reads_attempts() {
    // Omie counts a Consultar whose answer was lost, so the retry meets REDUNDANT until the
    // window ends. Five attempts are allowed: one 500 and five refusals must still end well.
    let mut server = Server::new_async().await;
    let lost = server
        .mock("POST", "/geral/clientes/")
        .with_status(500)
        .with_header("content-type", "text/html")
        .with_body("<html>Internal Server Error</html>")
        .expect(1)
        .create_async()
        .await;
    let redundant = server
        .mock("POST", "/geral/clientes/")
        .with_status(500)
        .with_body(
            json!({"faultstring": "Consumo redundante detectado. Aguarde 2 segundos para tentar novamente (REDUNDANT)", "faultcode": "SOAP-ENV:Client-6"})
                .to_string(),
        )
        .expect(5)
        .create_async()
        .await;
    let ok = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 7}),
        200,
        json!({"codigo_cliente_omie": 7}),
    )
    .await;
    let c = client(&server.url(), 0.01);
    let got = c.consultar_cliente(&ClienteChave::omie(7)).await.unwrap();
    assert_eq!(got.codigo_cliente_omie, Some(7));
    lost.assert_async().await;
    redundant.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn a_read_gives_up_after_its_attempts_fail() {
    let mut server = Server::new_async().await;
    let failing = server
        .mock("POST", "/geral/clientes/")
        .with_status(503)
        .with_header("content-type", "text/html")
        .with_body("<html>Service Unavailable</html>")
        .expect(5)
        .create_async()
        .await;
    let c = client(&server.url(), 0.01);
    let e = c
        .consultar_cliente(&ClienteChave::omie(7))
        .await
        .unwrap_err();
    assert!(matches!(e, OmieError::Http { status: 503, .. }), "{e:?}");
    failing.assert_async().await;
}

#[tokio::test]
async fn a_bare_429_is_rate_limited_and_retried_for_reads() {
    let mut server = Server::new_async().await;
    let limited = server
        .mock("POST", "/geral/clientes/")
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body("Too Many Requests")
        .expect(1)
        .create_async()
        .await;
    let ok = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 7}),
        200,
        json!({"codigo_cliente_omie": 7}),
    )
    .await;
    let c = client(&server.url(), 0.01);
    c.consultar_cliente(&ClienteChave::omie(7)).await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn a_misuse_block_opens_the_breaker_and_no_call_is_made_inside_it() {
    let mut server = Server::new_async().await;
    let blocked = server
        .mock("POST", "/geral/clientes/")
        .with_status(425)
        .with_body(fixture("fault.misuse.json").to_string())
        .expect(1)
        .create_async()
        .await;
    let c = client(&server.url(), 1.0);
    let e = c
        .consultar_cliente(&ClienteChave::omie(7))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Blocked);
    assert!(e.retry_after().unwrap() >= Duration::from_secs(1789));
    let state = c.breaker_state().expect("breaker open");
    // A second call, even of another method, never reaches Omie.
    let e2 = c.upsert_cliente(&cadastro()).await.unwrap_err();
    assert!(matches!(e2, OmieError::Blocked { .. }), "{e2:?}");
    assert!(e2.is_retryable() && !e2.maybe_applied());
    blocked.assert_async().await;

    // The state survives a "restart": a new client restored from it is blocked too.
    let stored = serde_json::to_string(&state).unwrap();
    let restored: BreakerState = serde_json::from_str(&stored).unwrap();
    let c2 = client(&server.url(), 1.0);
    c2.restore_breaker(Some(restored));
    assert!(matches!(
        c2.consultar_cliente(&ClienteChave::omie(7)).await,
        Err(OmieError::Blocked { .. })
    ));
    // Clearing it lets calls through again.
    c2.restore_breaker(None);
    let ok = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 7}),
        200,
        json!({"codigo_cliente_omie": 7}),
    )
    .await;
    c2.consultar_cliente(&ClienteChave::omie(7)).await.unwrap();
    ok.assert_async().await;
}

#[tokio::test]
async fn bad_credentials_are_unauthorized_and_not_retried() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/geral/clientes/")
        .with_status(500)
        .with_body(fixture("fault.invalid_credentials.json").to_string())
        .expect(1)
        .create_async()
        .await;
    let c = client(&server.url(), 0.01);
    let e = c
        .consultar_cliente(&ClienteChave::omie(7))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Unauthorized);
    assert!(!e.is_retryable());
    m.assert_async().await;
}

#[tokio::test]
async fn a_connection_refused_is_not_applied() {
    let c = client("http://127.0.0.1:9/", 0.01);
    let e = c.upsert_cliente(&cadastro()).await.unwrap_err();
    assert!(
        matches!(e, OmieError::Transport { sent: false, .. }),
        "{e:?}"
    );
    assert!(!e.maybe_applied());
    assert!(
        std::error::Error::source(&e).is_some(),
        "the transport error keeps its source"
    );
}

#[tokio::test]
async fn pages_stream_until_total_and_5113_ends_the_stream() {
    let mut server = Server::new_async().await;
    let mut mocks = Vec::new();
    for page in 1..=3u32 {
        let rows: Vec<Value> = (0..2)
            .map(|i| json!({"codigo_cliente_omie": page * 10 + i, "razao_social": "X"}))
            .collect();
        mocks.push(
            expect(&mut server, "/geral/clientes/", "ListarClientes", json!({"pagina": page, "registros_por_pagina": 100}), 200,
                json!({"pagina": page, "total_de_paginas": 3, "registros": 2, "total_de_registros": 6, "clientes_cadastro": rows})).await,
        );
    }
    let c = client(&server.url(), 0.01);
    let all: Vec<ClienteCadastro> = c
        .stream(ListarClientes::default())
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<i64> = all.iter().filter_map(|r| r.codigo_cliente_omie).collect();
    assert_eq!(ids, vec![10, 11, 20, 21, 30, 31]);
    for m in mocks {
        m.assert_async().await;
    }

    // An empty list is a Client-5113 fault on page 1: an empty stream, not an error.
    let mut server = Server::new_async().await;
    let empty = server
        .mock("POST", "/servicos/contrato/")
        .with_status(500)
        .with_body(fixture("fault.end_of_pages.json").to_string())
        .expect(1)
        .create_async()
        .await;
    let c = client(&server.url(), 0.01);
    let none: Vec<ContratoCadastro> = c.collect_all(ListarContratos::default()).await.unwrap();
    assert!(none.is_empty());
    empty.assert_async().await;
}

#[tokio::test]
async fn page_size_is_capped_at_100() {
    let mut server = Server::new_async().await;
    let m = expect(
        &mut server,
        "/servicos/servico/",
        "ListarCadastroServico",
        json!({"nPagina": 1, "nRegPorPagina": 100}),
        200,
        fixture("listar_cadastro_servico.page1.json"),
    )
    .await;
    let c = client(&server.url(), 0.01);
    let pages: Vec<_> = c
        .pages(ListarCadastroServico::default(), 500)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    m.assert_async().await;
}

// ----- the Erp port -----

#[tokio::test]
async fn upsert_adopts_a_customer_registered_without_integration_code() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let c = client(&server.url(), 0.01);
    let erp = OmieErp::new(c);
    let id = CustomerId::new();
    let code = id.to_string();
    let doc = common::cpf(42);
    let customer = common::customer(&doc, "JOSE DA SILVA");
    let mut body = serde_json::to_value(sig_omie::erp::cliente_cadastro(id, &customer)).unwrap();
    let formatted = customer.tax_id.formatted();
    assert_eq!(
        body,
        json!({"codigo_cliente_integracao": code, "razao_social": "JOSE DA SILVA", "cnpj_cpf": formatted,
               "nome_fantasia": "Acme", "email": "financeiro@example.com.br", "telefone1_ddd": "11",
               "telefone1_numero": "32145678", "telefone2_ddd": "11", "telefone2_numero": "987654321",
               "contato": "Maria Souza", "endereco": "Av Paulista", "endereco_numero": "1000",
               "complemento": "Conj 12", "bairro": "Bela Vista", "estado": "SP", "cidade": "São Paulo",
               "cep": "01310100", "codigo_pais": "1058"})
    );
    let dup = json!({"faultstring": format!("ERROR: Cliente já cadastrado para o CPF/CNPJ [{formatted}] com o Id [555] e código de integração [] ! (add)"), "faultcode": "SOAP-ENV:Client-102"});
    let upsert = expect(
        &mut server,
        "/geral/clientes/",
        "UpsertCliente",
        body.clone(),
        500,
        dup,
    )
    .await;
    let assoc = expect(
        &mut server,
        "/geral/clientes/",
        "AssociarCodIntCliente",
        json!({"codigo_cliente_omie": 555, "codigo_cliente_integracao": code}),
        200,
        status_ok(555, &code),
    )
    .await;
    body.as_object_mut()
        .unwrap()
        .remove("codigo_cliente_integracao");
    body["codigo_cliente_omie"] = json!(555);
    let alter = expect(
        &mut server,
        "/geral/clientes/",
        "AlterarCliente",
        body,
        200,
        status_ok(555, &code),
    )
    .await;

    let got = erp.upsert_customer(id, &customer, None).await.unwrap();
    assert_eq!(
        got,
        ErpCustomer {
            erp_id: 555,
            integration_code: Some(code.clone()),
            adopted: false,
            created: false
        }
    );
    upsert.assert_async().await;
    assoc.assert_async().await;
    alter.assert_async().await;
    stray.assert_async().await;
}

#[tokio::test]
async fn upsert_adopts_a_customer_held_under_another_code_without_touching_it() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let id = CustomerId::new();
    let customer = common::customer(&common::cpf(7), "ANA");
    let dup = json!({"faultstring": "ERROR: Cliente já cadastrado para o CPF/CNPJ [x] com o Id [556] e código de integração [ERP-77] ! (add)", "faultcode": "SOAP-ENV:Client-102"});
    let upsert = server
        .mock("POST", "/geral/clientes/")
        .match_body(Matcher::PartialJson(json!({"call": "UpsertCliente"})))
        .with_status(500)
        .with_body(dup.to_string())
        .expect(1)
        .create_async()
        .await;
    let alter = server
        .mock("POST", "/geral/clientes/")
        .match_body(Matcher::PartialJson(
            json!({"call": "AlterarCliente", "param": [{"codigo_cliente_omie": 556}]}),
        ))
        .with_body(status_ok(556, "ERP-77").to_string())
        .expect(1)
        .create_async()
        .await;
    let got = erp.upsert_customer(id, &customer, None).await.unwrap();
    assert_eq!(got.erp_id, 556);
    assert!(got.adopted);
    assert_eq!(got.integration_code.as_deref(), Some("ERP-77"));
    upsert.assert_async().await;
    alter.assert_async().await;
    stray.assert_async().await;
}

#[tokio::test]
async fn a_lost_upsert_answer_is_looked_up_not_resent() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let id = CustomerId::new();
    let code = id.to_string();
    let customer = common::customer(&common::cpf(8), "BETO");
    let upsert = server
        .mock("POST", "/geral/clientes/")
        .match_body(Matcher::PartialJson(json!({"call": "UpsertCliente"})))
        .with_status(504)
        .with_header("content-type", "text/html")
        .with_body("<html>gateway timeout</html>")
        .expect(1)
        .create_async()
        .await;
    let lookup = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_integracao": code}),
        200,
        json!({"codigo_cliente_omie": 901, "codigo_cliente_integracao": code}),
    )
    .await;
    let got = erp.upsert_customer(id, &customer, None).await.unwrap();
    assert_eq!(got.erp_id, 901);
    upsert.assert_async().await;
    lookup.assert_async().await;
    stray.assert_async().await;
}

/// The `IncluirContrato` body SIG sends for order `code` of customer 2485967 (the common
/// order and terms: plan service 9001, R$ 199,90 monthly from 01/03/2026, billed on day 10).
fn monthly_contract(code: &str) -> serde_json::Value {
    json!({"cabecalho": {"cCodIntCtr": code, "nCodCli": 2485967, "cCodSit": "10", "dVigInicial": "01/03/2026", "nDiaFat": 10, "cTipoFat": "01"},
           "infAdic": {"cCodCateg": "1.01.02"},
           "vencTextos": {"cTpVenc": "001", "nDias": 5},
           "itensContrato": [{"itemCabecalho": {"seq": 1, "codServico": 9001, "quant": 1.0, "valorUnit": 199.9},
                              "itemDescrServ": {"descrCompleta": "SIP 10 canais x1"}}]})
}

#[tokio::test]
async fn ensure_contract_checks_the_list_first_and_sends_the_monthly_contract() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let order_id = ServiceOrderId::new();
    let code = order_id.to_string();
    let order = common::order();
    let terms = common::terms();
    let req = ContractRequest {
        order_id,
        order: &order,
        terms: &terms,
        description: "SIP 10 canais x1".into(),
        attempt: Attempt::Again,
    };
    let customer = ErpCustomer {
        erp_id: 2485967,
        integration_code: None,
        adopted: false,
        created: true,
    };
    // Another order's contract exists for this customer; not ours.
    let other = json!({"pagina": 1, "total_de_paginas": 1, "registros": 1, "total_de_registros": 1,
        "contratoCadastro": [{"cabecalho": {"nCodCtr": 1, "cCodIntCtr": "other-order", "nCodCli": 2485967, "cCodSit": "10"}}]});
    let list = expect(
        &mut server,
        "/servicos/contrato/",
        "ListarContratos",
        json!({"pagina": 1, "registros_por_pagina": 100, "filtrar_cliente": 2485967}),
        200,
        other,
    )
    .await;
    let incluir = expect(&mut server, "/servicos/contrato/", "IncluirContrato",
        monthly_contract(&code),
        200, json!({"cCodIntCtr": code, "nCodCtr": 777, "cCodStatus": "0", "cDescStatus": "Contrato cadastrado com sucesso!"})).await;
    let got = erp.ensure_contract(&customer, &req).await.unwrap();
    assert_eq!(
        (got.erp_id, got.created, got.integration_code.as_str()),
        (777, true, code.as_str())
    );
    list.assert_async().await;
    incluir.assert_async().await;
    stray.assert_async().await;
}

/// A first attempt (the journal proves no earlier run sent it) creates without listing the
/// customer's contracts first; the catch-all mock fails the test on any other request.
#[tokio::test]
async fn ensure_contract_first_attempt_sends_only_the_create() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let order_id = ServiceOrderId::new();
    let code = order_id.to_string();
    let (order, terms) = (common::order(), common::terms());
    let req = ContractRequest {
        order_id,
        order: &order,
        terms: &terms,
        description: "SIP 10 canais x1".into(),
        attempt: Attempt::First,
    };
    let customer = ErpCustomer {
        erp_id: 2485967,
        integration_code: None,
        adopted: false,
        created: true,
    };
    let incluir = expect(&mut server, "/servicos/contrato/", "IncluirContrato",
        monthly_contract(&code),
        200, json!({"cCodIntCtr": code, "nCodCtr": 778, "cCodStatus": "0", "cDescStatus": "Contrato cadastrado com sucesso!"})).await;
    let got = erp.ensure_contract(&customer, &req).await.unwrap();
    assert_eq!((got.erp_id, got.created), (778, true));
    incluir.assert_async().await;
    stray.assert_async().await;
}

#[tokio::test]
async fn ensure_contract_reuses_the_orders_contract() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let order_id = ServiceOrderId::new();
    let code = order_id.to_string();
    let (order, terms) = (common::order(), common::terms());
    let req = ContractRequest {
        order_id,
        order: &order,
        terms: &terms,
        description: "x".into(),
        attempt: Attempt::Again,
    };
    let customer = ErpCustomer {
        erp_id: 5,
        integration_code: None,
        adopted: false,
        created: false,
    };
    let page = json!({"pagina": 1, "total_de_paginas": 1, "contratoCadastro": [{"cabecalho": {"nCodCtr": 4242, "cCodIntCtr": code, "nCodCli": 5, "cCodSit": "10"}}]});
    let list = expect(
        &mut server,
        "/servicos/contrato/",
        "ListarContratos",
        json!({"pagina": 1, "registros_por_pagina": 100, "filtrar_cliente": 5}),
        200,
        page,
    )
    .await;
    let got = erp.ensure_contract(&customer, &req).await.unwrap();
    assert_eq!((got.erp_id, got.created), (4242, false));
    list.assert_async().await;
    stray.assert_async().await;
}

#[tokio::test]
async fn find_customer_by_each_key() {
    let mut server = Server::new_async().await;
    let stray = not_received(&mut server).await;
    let erp = OmieErp::new(client(&server.url(), 0.01));
    let id = CustomerId::new();
    let code = id.to_string();
    let by_code = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_integracao": code}),
        500,
        fixture("fault.not_found.json"),
    )
    .await;
    assert_eq!(
        erp.find_customer(&CustomerLookup::SigId(id)).await.unwrap(),
        None
    );
    by_code.assert_async().await;

    let by_id = expect(
        &mut server,
        "/geral/clientes/",
        "ConsultarCliente",
        json!({"codigo_cliente_omie": 101}),
        200,
        json!({"codigo_cliente_omie": 101, "codigo_cliente_integracao": "A1"}),
    )
    .await;
    let got = erp
        .find_customer(&CustomerLookup::ErpId(101))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.erp_id, got.integration_code.as_deref()),
        (101, Some("A1"))
    );
    by_id.assert_async().await;

    let customer = common::customer(&common::cpf(9), "CARLA");
    let doc = customer.tax_id.formatted();
    let page = json!({"pagina": 1, "total_de_paginas": 1, "clientes_cadastro": [
        {"codigo_cliente_omie": 300, "cnpj_cpf": "000.000.001-91"},
        {"codigo_cliente_omie": 301, "cnpj_cpf": customer.tax_id.as_str()}]});
    let by_doc = expect(
        &mut server,
        "/geral/clientes/",
        "ListarClientes",
        json!({"pagina": 1, "registros_por_pagina": 100, "clientesFiltro": {"cnpj_cpf": doc}}),
        200,
        page,
    )
    .await;
    let got = erp
        .find_customer(&CustomerLookup::TaxId(customer.tax_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.erp_id, 301);
    by_doc.assert_async().await;
    stray.assert_async().await;
}
