//! Roadmap §1 against the in-process sandboxes (DocSales, Omie, NextBilling) and SQLite, with
//! the demo's configuration: held → edited → resumed → done with the edit in Omie, an edit
//! made before the DocSales fetch never fetched over, manual ServidorNext choice with its
//! refusals and a forced choice, links of a done integration, and the `sig` commands
//! (`proposals edit|resume`, `servers choose`) with their JSON and exit codes.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sig_cli::report::integration_links;
use sig_cli::runtime::{Runtime, open_store};
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes};
use sig_core::config::{Config, MapSecrets, Profile, StoreConfig, UserConfig};
use sig_core::domain::ProposalStatus;
use sig_core::edit::ProposalPatch;
use sig_core::ids::{IntegrationId, ServerId};
use sig_core::links::{LinkKind, LinkTargets};
use sig_core::pipeline::{IntakeOutcome, PipelineError, ServerChoiceWithOrder, Settings};
use sig_core::ports::{SourceKey, System};
use sig_core::store::{Actor, AuditFilter, AuditOutcome, IntegrationStatus, Store};
use sig_sandbox::{FaultKind, FaultSpec};

const DEMO_CONFIG: &str = include_str!("../demo/sig.toml");
const DEMO_PROPOSALS: &str = include_str!("../demo/proposals.json");

/// The demo's proposal 1006 (one VoIP line in DDD 12, no DIDs) under another id and CPF.
fn proposal(id: u64, cpf: &str, cep: &str) -> Value {
    let all: Vec<Value> = serde_json::from_str(DEMO_PROPOSALS).unwrap();
    let mut p = all
        .into_iter()
        .find(|p| p["document"]["id"] == 1006)
        .unwrap();
    p["document"]["id"] = json!(id);
    p["document"]["code"] = json!(format!("DS-{id}"));
    p["customer"]["legal_code"] = json!(cpf);
    p["customer"]["postal_code"] = json!(cep);
    p
}

fn server_ids() -> Vec<String> {
    DEMO_CONFIG
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sig-roadmap-{name}-{}-{}",
            std::process::id(),
            IntegrationId::new()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct World {
    sb: DemoSandboxes,
    config: Config,
    rt: Runtime,
    dir: TempDir,
}

fn users(config: &mut Config) {
    for (id, profile) in [("bruno", Profile::Operator), ("carla", Profile::Finance)] {
        config.users.push(UserConfig {
            id: id.parse().unwrap(),
            name: id.to_uppercase(),
            profile,
        });
    }
}

async fn world(name: &str, docs: &[Value], hold_for_review: bool) -> World {
    let sb = DemoSandboxes::start(&server_ids(), docs, DemoOptions::demo())
        .await
        .unwrap();
    let dir = TempDir::new(name);
    let mut config = Config::from_toml(DEMO_CONFIG, &dir.0, &MapSecrets(sb.secrets())).unwrap();
    sb.point_config(&mut config).unwrap();
    config.store = StoreConfig::Sqlite(dir.0.join("sig.sqlite"));
    config.companies[0].hold_for_review = hold_for_review;
    users(&mut config);
    let store = open_store(&config).unwrap();
    let settings = Settings {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..Settings::default()
    };
    let rt = Runtime::build(&config, store, settings).await.unwrap();
    World {
        sb,
        config,
        rt,
        dir,
    }
}

fn user(u: &str) -> Actor {
    Actor::User(u.parse().unwrap())
}

async fn intake(w: &World, id: u64) -> IntegrationId {
    match w
        .rt
        .pipeline
        .intake(
            &"demo".parse().unwrap(),
            SourceKey {
                account: "demo".into(),
                proposal_id: id.to_string(),
            },
            &ProposalStatus::Approved,
            Actor::Webhook("demo".into()),
            None,
        )
        .await
        .unwrap()
    {
        IntakeOutcome::Created { integration } => integration,
        other => panic!("{other:?}"),
    }
}

async fn status(w: &World, id: IntegrationId) -> IntegrationStatus {
    w.rt.store.get(id).await.unwrap().unwrap().status
}

fn patch(items: &[&str]) -> ProposalPatch {
    ProposalPatch::from_assignments(items).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_edited_resumed_done_with_links_and_the_docsales_fetch_once() {
    let docs = [
        proposal(3001, "529.982.247-25", "12245-00"),
        proposal(3002, "111.444.777-35", "12245-000"),
    ];
    let w = world("edit", &docs, false).await;

    // 3001 has a 7-digit CEP: held, with the DocSales field named.
    let a = intake(&w, 3001).await;
    w.rt.run_until_idle().await.unwrap();
    let i = w.rt.store.get(a).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(i.problems.0[0].field, "customer.address.cep");
    assert_eq!(
        i.problems.0[0].source_field.as_deref(),
        Some("customer.postal_code")
    );
    // Finance may not fix an address; the operator may.
    assert!(matches!(
        w.rt.pipeline
            .edit(
                a,
                user("carla"),
                &patch(&["customer.address.cep=12245-000"])
            )
            .await,
        Err(PipelineError::FieldsDenied(_))
    ));
    let out =
        w.rt.pipeline
            .edit(
                a,
                user("bruno"),
                &patch(&["customer.address.cep=12245-000"]),
            )
            .await
            .unwrap();
    assert!(out.resumed && out.problems.is_empty(), "{out:?}");

    // 3002 is edited before any worker read it: the edit reads it from DocSales first.
    let b = intake(&w, 3002).await;
    let out =
        w.rt.pipeline
            .edit(
                b,
                user("bruno"),
                &patch(&["customer.contact_name=Maria Oliveira"]),
            )
            .await
            .unwrap();
    assert!(out.fetched);
    assert_eq!(out.changes[0].before, json!("João Pedro Oliveira"));
    // From now on DocSales refuses to serve it: a fetch over the edit would fail the run.
    w.sb.docsales
        .faults()
        .add(FaultSpec::always(FaultKind::http_error(500)).on_call("get_proposal"))
        .unwrap();

    w.rt.run_until_idle().await.unwrap();
    assert_eq!(status(&w, a).await, IntegrationStatus::Done);
    assert_eq!(status(&w, b).await, IntegrationStatus::Done);
    assert_eq!(
        w.sb.docsales.faults().injected().get("get_proposal"),
        None,
        "the pipeline did not fetch the edited proposal again"
    );

    // Omie holds the edited values.
    let ia = w.rt.store.get(a).await.unwrap().unwrap();
    let ca =
        w.sb.omie
            .customer(&ia.customer.unwrap().to_string())
            .unwrap();
    assert_eq!(
        ca.cep.as_deref().map(|c| c.replace(['-', '.'], "")),
        Some("12245000".into())
    );
    let ib = w.rt.store.get(b).await.unwrap().unwrap();
    let cb =
        w.sb.omie
            .customer(&ib.customer.unwrap().to_string())
            .unwrap();
    assert_eq!(cb.contato.as_deref(), Some("Maria Oliveira"));

    // Links to every record of the done integration, from the demo's templates.
    let targets = LinkTargets::from_config(&w.config);
    let links = integration_links(w.rt.store.as_ref(), &ia, &targets)
        .await
        .unwrap();
    let got: Vec<(System, LinkKind)> = links.iter().map(|l| (l.system, l.kind)).collect();
    assert_eq!(
        got,
        vec![
            (System::Omie, LinkKind::Customer),
            (System::Omie, LinkKind::Contract),
            (System::NextBilling, LinkKind::Customer),
            (System::NextBilling, LinkKind::Line),
        ]
    );
    assert!(links.iter().all(|l| l.url.is_some()), "{links:?}");
    let omie_id = ca.codigo_cliente_omie.unwrap().to_string();
    assert_eq!(links[0].record, omie_id);
    assert!(links[0].search_hint.as_deref().unwrap().contains(&omie_id));
    assert!(
        links[2]
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://sp1.voip.example/painel/clientes/"),
        "{:?}",
        links[2]
    );

    // The audit: who edited what, before and after; every decision.
    let ev =
        w.rt.store
            .audit(&AuditFilter {
                integration: Some(a),
                ..Default::default()
            })
            .await
            .unwrap();
    let edit = ev.iter().find(|e| e.action == "edit").unwrap();
    assert_eq!(edit.actor, user("bruno"));
    assert_eq!(edit.details["changes"][0]["before"], "12245-00");
    assert_eq!(edit.details["changes"][0]["after"], "12245-000");
    assert!(ev.iter().any(|e| e.action == "authz.edit_proposal"
        && e.actor == user("carla")
        && e.outcome == AuditOutcome::Denied));
    w.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_manual_choice_provisions_on_the_chosen_server() {
    let docs = [proposal(4001, "529.982.247-25", "12245-000")];
    let w = world("choose", &docs, true).await;
    let id = intake(&w, 4001).await;
    w.rt.run_until_idle().await.unwrap();
    let i = w.rt.store.get(id).await.unwrap().unwrap();
    assert_eq!(
        (i.status, i.step.as_deref()),
        (IntegrationStatus::Held, Some("review"))
    );
    let s = |x: &str| x.parse::<ServerId>().unwrap();
    assert!(matches!(
        w.rt.pipeline
            .choose_server(id, 0, &s("sp1"), user("bruno"), None)
            .await,
        Err(PipelineError::Denied(_))
    ));
    for (server, why) in [
        ("ne-old", "inactive"),
        ("sp2", "does not serve the area code"),
    ] {
        match w
            .rt
            .pipeline
            .choose_server(id, 0, &s(server), user("ana"), None)
            .await
        {
            Err(PipelineError::ServerRefused { reasons, .. }) => {
                assert!(reasons[0].contains(why), "{server}: {reasons:?}")
            }
            other => panic!("{server}: {other:?}"),
        }
    }
    let out =
        w.rt.pipeline
            .choose_server(
                id,
                0,
                &s("ne-old"),
                user("ana"),
                Some("migrating this customer with its legacy PBX"),
            )
            .await
            .unwrap();
    assert!(!out.applied, "held for review: applied at the server step");
    assert_eq!(out.choice.automatic, Some(s("sp1")));
    w.rt.pipeline.resume(id, user("bruno")).await.unwrap();
    w.rt.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);

    let j = w.rt.store.journal(id).await.unwrap();
    let c: ServerChoiceWithOrder = serde_json::from_value(j["server:0"].result.clone()).unwrap();
    assert_eq!(c.choice.server, s("ne-old"));
    let m = c.choice.manual.unwrap();
    assert!(m.forced);
    assert_eq!(m.by, user("ana"));
    assert_eq!(m.overridden, vec!["inactive".to_owned()]);
    assert_eq!(m.automatic, Some(s("sp1")));
    let counts = w.sb.upstream_counts();
    assert_eq!(
        counts["nextbilling:ne-old"].creates.get("line").copied(),
        Some(1),
        "{counts:?}"
    );
    assert_eq!(counts["nextbilling:sp1"].creates.get("line"), None);
    let ev =
        w.rt.store
            .audit(&AuditFilter {
                integration: Some(id),
                ..Default::default()
            })
            .await
            .unwrap();
    let actions: Vec<(&str, AuditOutcome)> = ev
        .iter()
        .filter(|e| e.actor == user("ana"))
        .map(|e| (e.action.as_str(), e.outcome))
        .collect();
    assert!(actions.contains(&("authz.force_server", AuditOutcome::Ok)));
    assert!(actions.contains(&("server.choose", AuditOutcome::Ok)));
    assert!(
        ev.iter()
            .any(|e| e.action == "step.server:0" && e.summary.contains("forced")),
        "the step's audit says it was forced"
    );
    w.sb.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The `sig` commands.

/// The demo configuration as a file pointed at the sandboxes, with an SQLite store next to
/// it and the operator and finance users.
fn write_config(w: &World) -> PathBuf {
    let mut text = DEMO_CONFIG.replace(
        "[accounts.omie.demo]\n",
        &format!(
            "[accounts.omie.demo]\nbase_url = \"{}\"\n",
            w.sb.omie.base_url()
        ),
    );
    text = text.replace(
        "[accounts.docsales.demo]\n",
        &format!(
            "[accounts.docsales.demo]\nbase_url = \"{}\"\n",
            w.sb.docsales.base_url()
        ),
    );
    for id in server_ids() {
        text = text.replace(
            &format!("base_url = \"https://{id}.voip.example/\""),
            &format!(
                "base_url = \"{}\"",
                w.sb.next.instance(&id).unwrap().base_url()
            ),
        );
    }
    text = text.replace("sqlite = \"sig-demo.sqlite\"", "sqlite = \"sig.sqlite\"");
    // This company holds every proposal for review.
    text = text.replace(
        "docsales_account = \"demo\"\n",
        "docsales_account = \"demo\"\nhold_for_review = true\n",
    );
    text.push_str(
        "\n[[users]]\nid = \"bruno\"\nname = \"Bruno\"\nprofile = \"operator\"\n\
         \n[[users]]\nid = \"carla\"\nname = \"Carla\"\nprofile = \"finance\"\n",
    );
    let path = w.dir.0.join("sig.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn sig(w: &World, config: &PathBuf, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sig"))
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(w.sb.secrets())
        .env_remove("SIG_USER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sig_commands_edit_resume_and_choose_with_json_and_exit_codes() {
    let docs = [proposal(5001, "529.982.247-25", "12245-00")];
    let w = world("cli", &docs, true).await;
    let config = write_config(&w);
    // The file is what the commands read; the test's runtime shares its store.
    let loaded = Config::load(&config, &MapSecrets(w.sb.secrets())).unwrap();
    assert_eq!(loaded.users.len(), 3);
    assert!(loaded.companies[0].hold_for_review);
    let store: Arc<dyn Store> = open_store(&loaded).unwrap();
    let rt = Runtime::build(&loaded, store, Settings::default())
        .await
        .unwrap();
    let id = match rt
        .pipeline
        .intake(
            &"demo".parse().unwrap(),
            SourceKey {
                account: "demo".into(),
                proposal_id: "5001".into(),
            },
            &ProposalStatus::Approved,
            Actor::Webhook("demo".into()),
            None,
        )
        .await
        .unwrap()
    {
        IntakeOutcome::Created { integration } => integration,
        other => panic!("{other:?}"),
    };
    rt.run_until_idle().await.unwrap();
    let ids = id.to_string();
    let id_s = ids.as_str();

    // Usage errors: exit 2.
    let (code, _, err) = sig(&w, &config, &["proposals", "edit", id_s, "--set", "a=b"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--as"), "{err}");
    let (code, _, err) = sig(
        &w,
        &config,
        &[
            "proposals",
            "edit",
            id_s,
            "--set",
            "customer.senha=x",
            "--as",
            "bruno",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("customer.senha"), "{err}");

    // A denied field: exit 1, JSON naming it.
    let (code, out, _) = sig(
        &w,
        &config,
        &[
            "proposals",
            "edit",
            id_s,
            "--set",
            "customer.tax_id=39053344705",
            "--as",
            "bruno",
            "--json",
        ],
    );
    assert_eq!(code, 1);
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "fields_denied");
    assert_eq!(v["error"]["fields"], json!(["customer.tax_id"]));

    // A fix that is still wrong: a business outcome (exit 0, 1 with --strict).
    let (code, out, _) = sig(
        &w,
        &config,
        &[
            "--strict",
            "proposals",
            "edit",
            id_s,
            "--set",
            "customer.address.cep=1224",
            "--as",
            "bruno",
            "--json",
        ],
    );
    assert_eq!(code, 1, "{out}");
    let v = json_of(&out);
    assert_eq!(v["status"], "held");
    assert_eq!(v["problems"][0]["field"], "customer.address.cep");

    // The right fix resumes it (a valid edit is the review this company asks for).
    let (code, out, _) = sig(
        &w,
        &config,
        &[
            "proposals",
            "edit",
            id_s,
            "--set",
            "customer.address.cep=12245-000",
            "--as",
            "bruno",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let v = json_of(&out);
    assert_eq!(
        (v["ok"].clone(), v["resumed"].clone()),
        (json!(true), json!(true))
    );
    // Before a worker takes it, the admin chooses its server (human output); an operator
    // may not.
    let (code, out, err) = sig(
        &w,
        &config,
        &[
            "servers", "choose", id_s, "--order", "0", "--server", "sp1", "--as", "ana",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sp1 chosen by user:ana"), "{out}");
    let (code, out, _) = sig(
        &w,
        &config,
        &[
            "servers", "choose", id_s, "--order", "0", "--server", "sp1", "--as", "bruno", "--json",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(json_of(&out)["error"]["kind"], "denied");
    let (code, out, _) = sig(
        &w,
        &config,
        &["proposals", "resume", id_s, "--as", "bruno", "--json"],
    );
    assert_eq!(code, 1, "it is pending now: {out}");
    assert_eq!(json_of(&out)["error"]["kind"], "invalid_state");

    rt.run_until_idle().await.unwrap();
    assert_eq!(
        rt.store.get(id).await.unwrap().unwrap().status,
        IntegrationStatus::Done
    );
    let j = rt.store.journal(id).await.unwrap();
    assert_eq!(j["server:0"].result["chosen_by"], "user:ana");
    assert_eq!(j["review"].result["by"]["id"], "bruno");
    w.sb.shutdown().await;
}
