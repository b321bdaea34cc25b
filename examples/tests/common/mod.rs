//! Shared by the `sig serve` and `sig integrations` tests: sandboxes in the test process, a
//! `sig.toml` on disk pointing at them, generated DocSales proposals, and `sig` as a child
//! process.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes};
use url::Url;

/// Window scale of the Omie sandbox and of the client's limits: Omie's 60 s windows last
/// 1.2 s, so limits are still enforced but tests take seconds.
pub const OMIE_SCALE: f64 = 0.02;

/// The first generated proposal's DocSales id.
pub const FIRST_ID: u64 = 20_001;

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sig-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
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

/// A valid CPF built from a number (masked).
pub fn cpf(n: u64) -> String {
    let s = sig_cli::sample::cpf_with_base(100_000_000 + (n * 7_919) % 899_999_999);
    format!("{}.{}.{}-{}", &s[0..3], &s[3..6], &s[6..9], &s[9..11])
}

/// Personal data a generated proposal carries, to check it never reaches a log unmasked.
#[derive(Debug, Clone)]
pub struct Personal {
    pub cpf: String,
    pub email: String,
    pub phone: String,
}

/// A DocSales proposal document for person `n` (a CPF holder in São Paulo, one VoIP line with
/// one DID in DDD 11), approved. `valid: false` gives it a CPF that fails its check digits,
/// so it is held.
pub fn proposal(n: u64, valid: bool) -> (Value, Personal) {
    let id = FIRST_ID + n;
    let cpf = if valid {
        cpf(n)
    } else {
        "111.111.111-11".to_owned()
    };
    let email = format!("cliente.{n}@exemplo-voip.com.br");
    let phone = format!("(11) 9{:04}-{:04}", 8000 + n / 10_000, n % 10_000);
    let doc = json!({
        "document": {
            "id": id,
            "code": format!("DS-{id}"),
            "status": "approved",
            "created_at": "2026-11-12 09:42:00 -0300",
            "updated_at": "2026-11-24 10:42:31 -0300",
            "contract_start": "2026-12-01",
            "contract_months": "12",
            "due_day": "10",
            "contact_name": format!("Cliente Teste {n}"),
            "contact_email": email,
            "deal_name": format!("Cliente Teste {n} - VoIP"),
            "custom_ddd": "11",
            "custom_dids": format!("114{:03}{:04}", n / 10_000, n % 10_000)
        },
        "account": {
            "name": "Provedor VoIP Exemplo",
            "document_number": "11.222.333/0001-81",
            "currency_iso_code": "BRL"
        },
        "document_owner": {"name": "Marina Alves", "email": "marina.alves@provedor.example"},
        "customer": {
            "name": format!("Cliente Teste {n}"),
            "legal_code": cpf,
            "customer_type": "person",
            "postal_code": "01304-001",
            "address": "Rua Augusta",
            "number": format!("{}", 100 + n),
            "district": "Consolação",
            "city": "São Paulo",
            "state": "SP",
            "whatsapp_number": phone,
            "contact_name": format!("Cliente Teste {n}"),
            "contact_email": email
        },
        "products": [
            {"code": "VOIP-LINHA", "name": "Linha VoIP", "quantity": 1, "unit_value": "39.90"}
        ]
    });
    (doc, Personal { cpf, email, phone })
}

/// Sandboxes in this process and a `sig.toml` on disk pointing at them.
pub struct Env {
    pub sb: DemoSandboxes,
    pub dir: TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    /// The environment variables the configuration reads its secrets from.
    pub secrets: BTreeMap<String, String>,
    pub docs: Vec<Value>,
    pub personal: Vec<Personal>,
}

pub const SERVERS: [&str; 2] = ["sp1", "rj1"];

impl Env {
    /// Start the sandboxes seeded with `docs` and write the configuration; `serve` is the
    /// `[serve]` section's body.
    pub async fn start(name: &str, docs: Vec<(Value, Personal)>, serve: &str) -> Env {
        let (docs, personal): (Vec<Value>, Vec<Personal>) = docs.into_iter().unzip();
        let ids: Vec<String> = SERVERS.iter().map(|s| s.to_string()).collect();
        let sb = DemoSandboxes::start(
            &ids,
            &docs,
            DemoOptions {
                omie_scale: OMIE_SCALE,
                seed: 7,
                unlimited: false,
            },
        )
        .await
        .unwrap();
        let dir = TempDir::new(name);
        let db = dir.0.join("sig.sqlite");
        let config = dir.0.join("sig.toml");
        let demo =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/sig.toml"))
                .unwrap();
        let catalog =
            &demo[demo.find("[catalog.fields]").unwrap()..demo.find("[[users]]").unwrap()];
        let next = |id: &str| sb.next.instance(id).unwrap().base_url();
        let text = format!(
            r#"
[store]
sqlite = "{db}"

[accounts.omie.demo]
base_url = "{omie}"
app_key = {{ env = "DEMO_OMIE_APP_KEY" }}
app_secret = {{ env = "DEMO_OMIE_APP_SECRET" }}
time_scale = {OMIE_SCALE}

[accounts.docsales.demo]
base_url = "{docsales}"
token = {{ env = "DEMO_DOCSALES_TOKEN" }}
webhook_secret = {{ env = "DEMO_DOCSALES_WEBHOOK_SECRET" }}

[[companies]]
id = "demo"
name = "Provedor VoIP Exemplo Ltda"
omie_account = "demo"
docsales_account = "demo"

[[servers]]
id = "sp1"
name = "São Paulo 1"
base_url = "{sp1}"
api_token = {{ env = "DEMO_NEXT_TOKEN_SP1" }}
api_key = {{ env = "DEMO_NEXT_KEY_SP1" }}
area_codes = [11, 12, 13, 14, 15, 16, 17, 18, 19]
capacity_lines = 1000
capacity_channels = 2000

[[servers]]
id = "rj1"
name = "Rio de Janeiro 1"
base_url = "{rj1}"
api_token = {{ env = "DEMO_NEXT_TOKEN_RJ1" }}
api_key = {{ env = "DEMO_NEXT_KEY_RJ1" }}
area_codes = [21, 22, 24, 27, 28]
capacity_lines = 200
capacity_channels = 150

{catalog}
[[users]]
id = "ana"
name = "Ana Souza"
profile = "admin"

[[users]]
id = "bruno"
name = "Bruno Lima"
profile = "operator"

[[users]]
id = "vera"
name = "Vera Reis"
profile = "viewer"

[serve]
{serve}
"#,
            db = db.display(),
            omie = sb.omie.base_url(),
            docsales = sb.docsales.base_url(),
            sp1 = next("sp1"),
            rj1 = next("rj1"),
        );
        std::fs::write(&config, text).unwrap();
        let secrets = sb.secrets();
        Env {
            sb,
            dir,
            config,
            db,
            secrets,
            docs,
            personal,
        }
    }

    /// The webhook URL path for the demo account (the secret token in the path).
    pub fn webhook_url(&self, addr: SocketAddr) -> Url {
        Url::parse(&format!(
            "http://{addr}/webhooks/docsales/demo/{}",
            self.sb.webhook_secret().expose_secret()
        ))
        .unwrap()
    }

    /// A `sig` command with this environment's secrets.
    pub fn sig(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sig"));
        c.envs(&self.secrets)
            .env_remove("SIG_USER")
            .env_remove("SIG_CONFIG");
        c
    }

    /// Run `sig integrations <args>` to its end: (exit code, stdout, stderr).
    pub fn integrations(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .sig()
            .arg("integrations")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Successful creates per kind and system, and duplicates, from the sandboxes' counters.
    pub fn upstream(&self) -> (BTreeMap<String, u64>, u64) {
        let mut creates = BTreeMap::new();
        let mut duplicates = 0;
        for (system, c) in self.sb.upstream_counts() {
            let system = system.split(':').next().unwrap().to_owned();
            for (kind, n) in c.creates {
                *creates.entry(format!("{system}.{kind}")).or_default() += n;
            }
            duplicates += c.duplicates;
        }
        (creates, duplicates)
    }
}

/// `sig serve` as a child process.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    stdout: mpsc::Receiver<String>,
}

impl Serve {
    /// Start `sig serve --config …`, logs to `log` (stderr), and wait for its listening line.
    pub fn spawn(env: &Env, log: &Path, log_filter: &str) -> Serve {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = env
            .sig()
            .arg("serve")
            .arg("--config")
            .arg(&env.config)
            .env("SIG_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("sig serve prints its listening line");
        let v: Value = serde_json::from_str(&first).expect("the first stdout line is JSON");
        assert_eq!(v["event"], "listening", "{v}");
        let addr = v["addr"].as_str().unwrap().parse().unwrap();
        Serve {
            child,
            addr,
            stdout: rx,
        }
    }

    /// Send SIGTERM.
    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
    }

    /// Wait for the process to exit (at most `limit`): its exit code, its `stopped` line and
    /// how long the wait took.
    pub fn wait(mut self, limit: Duration) -> (i32, Value, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stopped = self
                    .stdout
                    .recv_timeout(Duration::from_secs(5))
                    .map(|l| serde_json::from_str(&l).unwrap())
                    .unwrap_or(Value::Null);
                return (status.code().unwrap_or(-1), stopped, started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("sig serve did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop with SIGTERM and wait.
    pub fn stop(self) -> (i32, Value, Duration) {
        self.sigterm();
        self.wait(Duration::from_secs(60))
    }

    /// Scrape `/metrics` and parse it with a Prometheus text-format parser.
    pub async fn metrics(&self) -> prometheus_parse::Scrape {
        let text = reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("the metrics parse")
    }

    /// Wait until `done` says the scrape is complete (polling `/metrics`).
    pub async fn wait_metrics(
        &self,
        limit: Duration,
        done: impl Fn(&prometheus_parse::Scrape) -> bool,
    ) -> prometheus_parse::Scrape {
        let started = Instant::now();
        loop {
            let s = self.metrics().await;
            if done(&s) {
                return s;
            }
            assert!(
                started.elapsed() < limit,
                "metrics did not reach the expected state in {limit:?}: {:?}",
                summary(&s)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one sample (a counter, gauge or untyped line) with these labels.
pub fn sample(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .and_then(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
}

/// The sum over every sample of `name` whose labels include these.
pub fn sum(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .filter_map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
        .sum()
}

/// Integrations per status, from a scrape.
pub fn summary(s: &prometheus_parse::Scrape) -> BTreeMap<String, f64> {
    ["pending", "held", "done", "failed", "cancelled"]
        .iter()
        .map(|st| {
            (
                st.to_string(),
                sample(s, "sig_integrations", &[("status", st)]).unwrap_or(-1.0),
            )
        })
        .collect()
}

/// POST one notification; whether it was acknowledged (2xx).
pub async fn deliver(http: &reqwest::Client, url: &Url, doc: &Value) -> bool {
    match http
        .post(url.clone())
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(30))
        .body(serde_json::to_vec(doc).unwrap())
        .send()
        .await
    {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

/// The proposal id of a generated document.
pub fn proposal_id(doc: &Value) -> String {
    doc["document"]["id"].to_string()
}

/// Distinct proposals among ids.
pub fn distinct(ids: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}
