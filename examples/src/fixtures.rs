//! Fixtures for the `sig` CLI's tests and benchmarks: the vendor sandboxes in-process, a
//! `sig.toml` pointing at them (written to a temporary folder, secrets in environment
//! variables), the pipeline on it, the `sig` binary as a child process, and a seeded
//! generator of migration CSVs with valid CPFs/CNPJs, bad rows of several kinds, in-file
//! duplicates and customers already in Omie.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::runtime::{Runtime, open_store};
use crate::sandboxes::{DemoOptions, DemoSandboxes, env_name};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sig_core::config::{Config, MapSecrets};
use sig_core::pipeline::Settings;

/// The Omie sandbox's window scale in these tests: a 60 s window lasts 600 ms.
pub const OMIE_SCALE: f64 = 0.01;

/// A folder removed on drop.
pub struct TempDir(
    /// The folder.
    pub PathBuf,
);

impl TempDir {
    /// A new folder under the system's temporary folder.
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sig-cli-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
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

/// Sandboxes, a config file pointing at them, and helpers.
pub struct Harness {
    /// The sandboxes.
    pub sb: DemoSandboxes,
    /// The folder holding `sig.toml`, the store and the files.
    pub dir: TempDir,
    /// `sig.toml`.
    pub config_path: PathBuf,
    /// The secrets `sig.toml` reads from the environment.
    pub secrets: BTreeMap<String, String>,
}

const SERVERS: [(&str, &str); 2] = [
    ("sp1", "[11, 12, 13, 14, 15, 16, 17, 18, 19]"),
    ("rj1", "[21, 22, 24, 27, 28]"),
];

impl Harness {
    /// Start the sandboxes and write `sig.toml` (users: ana admin, bruno operator, carla
    /// finance, vera viewer).
    pub async fn start(name: &str) -> Harness {
        let ids: Vec<String> = SERVERS.iter().map(|(id, _)| id.to_string()).collect();
        let sb = DemoSandboxes::start(
            &ids,
            &[],
            DemoOptions {
                omie_scale: OMIE_SCALE,
                seed: 7,
                unlimited: false,
            },
        )
        .await
        .expect("sandboxes");
        let dir = TempDir::new(name);
        let mut servers = String::new();
        for (id, areas) in SERVERS {
            let url = sb.next.instance(id).expect("instance").base_url();
            servers.push_str(&format!(
                "[[servers]]\nid = \"{id}\"\nname = \"{id}\"\nbase_url = \"{url}\"\n\
                 api_token = {{ env = \"{}\" }}\napi_key = {{ env = \"{}\" }}\n\
                 area_codes = {areas}\ncapacity_lines = 10000000\ncapacity_channels = 10000000\n\n",
                env_name("DEMO_NEXT_TOKEN", id),
                env_name("DEMO_NEXT_KEY", id),
            ));
        }
        let toml = format!(
            r#"[store]
sqlite = "sig.sqlite"

[accounts.omie.acme]
base_url = "{omie}"
app_key = {{ env = "DEMO_OMIE_APP_KEY" }}
app_secret = {{ env = "DEMO_OMIE_APP_SECRET" }}
time_scale = {OMIE_SCALE}

[accounts.docsales.acme]
base_url = "{docsales}"
token = {{ env = "DEMO_DOCSALES_TOKEN" }}
webhook_secret = {{ env = "DEMO_DOCSALES_WEBHOOK_SECRET" }}

[[companies]]
id = "acme"
name = "ACME Telecom"
omie_account = "acme"
docsales_account = "acme"

{servers}
[catalog.fields]
area_code = "custom_ddd"
dids = "custom_dids"

[[catalog.plans]]
id = "sip-line"
name = "Linha SIP"
products = ["VOIP-LINHA"]
lines_per_unit = 1
channels_per_unit = 2
monthly_price = "39.90"
next_rate_id = 1
omie = {{ service_code = 3101, category = "1.01.01", due_days = 10 }}

[[catalog.plans]]
id = "sip-trunk-10"
name = "Tronco SIP 10 canais"
products = ["VOIP-TRONCO-10"]
lines_per_unit = 1
channels_per_unit = 10
monthly_price = "299.90"
next_rate_id = 2
omie = {{ service_code = 3102, category = "1.01.01", due_days = 10 }}

[[catalog.plans]]
id = "pabx-virtual"
name = "PABX Virtual"
products = ["VOIP-PABX-RAMAL"]
lines_per_unit = 1
channels_per_unit = 1
monthly_price = "24.90"
next_rate_id = 3
omie = {{ service_code = 3103, category = "1.01.02" }}

[[users]]
id = "ana"
name = "Ana"
profile = "admin"

[[users]]
id = "bruno"
name = "Bruno"
profile = "operator"

[[users]]
id = "carla"
name = "Carla"
profile = "finance"

[[users]]
id = "vera"
name = "Vera"
profile = "viewer"
"#,
            omie = sb.omie.base_url(),
            docsales = sb.docsales.base_url(),
        );
        let config_path = dir.0.join("sig.toml");
        std::fs::write(&config_path, toml).expect("write sig.toml");
        let secrets = sb.secrets();
        Harness {
            sb,
            dir,
            config_path,
            secrets,
        }
    }

    /// The configuration, as `sig` reads it.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path, &MapSecrets(self.secrets.clone())).expect("config")
    }

    /// The pipeline on the configuration's store (Omie clients with Omie's real limits:
    /// for tests of a few calls).
    pub async fn runtime(&self, settings: Settings) -> Runtime {
        let config = self.config();
        let store = open_store(&config).expect("store");
        Runtime::build(&config, store, settings)
            .await
            .expect("runtime")
    }

    /// The `sig` binary at `sig` with the secrets in its environment.
    pub fn sig_at(&self, sig: &Path) -> Command {
        let mut c = Command::new(sig);
        c.envs(&self.secrets)
            .env_remove("SIG_USER")
            .env_remove("SIG_POLICY")
            .env_remove("SIG_CONFIG");
        c
    }

    /// A path in the harness' folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Creates per kind and duplicates (creates beyond the first per natural key).
    pub fn creates(&self) -> (BTreeMap<String, u64>, u64) {
        let mut creates = BTreeMap::new();
        let mut dups = 0;
        for (system, c) in self.sb.upstream_counts() {
            for (kind, n) in c.creates {
                *creates.entry(format!("{system}:{kind}")).or_default() += n;
            }
            dups += c.duplicates;
        }
        (creates, dups)
    }
}

/// Pipeline settings for tests: short backoffs and leases.
pub fn settings() -> Settings {
    Settings {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(500),
        health_timeout: Duration::from_secs(2),
        lease: Duration::from_secs(5),
        ..Settings::default()
    }
}

// ---------------------------------------------------------------------------------------
// Seeded data.

/// A random valid CPF (digits).
pub fn cpf(rng: &mut impl Rng) -> String {
    loop {
        let d: Vec<u32> = (0..9).map(|_| rng.random_range(0..10)).collect();
        if d.iter().all(|x| *x == d[0]) {
            continue;
        }
        let base = d.iter().fold(0u64, |acc, x| acc * 10 + u64::from(*x));
        return crate::sample::cpf_with_base(base);
    }
}

/// A random valid numeric CNPJ (digits).
pub fn cnpj(rng: &mut impl Rng) -> String {
    loop {
        let d: Vec<u32> = (0..12).map(|_| rng.random_range(0..10)).collect();
        if d.iter().all(|x| *x == d[0]) {
            continue;
        }
        let base: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
        return crate::sample::cnpj_with_base(&base);
    }
}

/// The header of generated files.
pub const HEADER: &str = "tax_id,legal_name,trade_name,contact_name,emails,phones,street,number,complement,district,city,uf,cep,state_registration,municipal_registration,order1_product,order1_quantity,order1_area_code,order1_dids,order1_monthly_value,order1_start_date,order1_billing_day,order2_product,order2_quantity,order2_area_code,order2_dids,order2_monthly_value,order2_start_date,order2_billing_day";

/// What a generated file holds, for the assertions.
#[derive(Debug, Default)]
pub struct Generated {
    /// The file.
    pub csv: String,
    /// Row numbers (file lines) of valid rows, first of each tax id.
    pub good: Vec<u64>,
    /// Row → the field paths that must be reported for it.
    pub bad: BTreeMap<u64, Vec<&'static str>>,
    /// Row → the first row with the same tax id.
    pub duplicates: BTreeMap<u64, u64>,
    /// Tax ids of good rows that pre-exist in Omie.
    pub in_omie: Vec<String>,
    /// Orders, DIDs and lines over the good rows.
    pub orders: u64,
    /// DIDs over the good rows.
    pub dids: u64,
    /// SIP lines over the good rows.
    pub lines: u64,
    /// Tax id per good row.
    pub tax_ids: BTreeMap<u64, String>,
}

/// A seeded migration file of `rows` data rows: ~5 % bad rows of various kinds, a few
/// in-file duplicates, and ~`omie_share` of the good customers pre-existing in Omie.
pub fn generate(rows: usize, seed: u64, omie_share: f64) -> Generated {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = Generated::default();
    let mut out = String::with_capacity(rows * 200);
    out.push_str(HEADER);
    out.push('\n');
    let mut line = 1u64;
    let mut used_dids = std::collections::HashSet::new();
    let mut prev_good: Vec<(u64, String)> = Vec::new();
    for n in 0..rows {
        line += 1;
        let roll: f64 = rng.random();
        let dup = roll < 0.005 && !prev_good.is_empty();
        let (tax, first) = if dup {
            let (first, t) = prev_good[rng.random_range(0..prev_good.len())].clone();
            (t, Some(first))
        } else if rng.random_bool(0.7) {
            (cpf(&mut rng), None)
        } else {
            (cnpj(&mut rng), None)
        };
        let bad_kind = if !dup && roll > 0.95 {
            Some(rng.random_range(0..6))
        } else {
            None
        };
        let sp = rng.random_bool(0.6);
        let area = if sp { 11 } else { 21 };
        let uf = if sp { "SP" } else { "RJ" };
        let mut f: Vec<String> = vec![
            tax.clone(),
            format!("Cliente Migrado {n}"),
            String::new(),
            format!("Contato {n}"),
            format!("cliente{n}@exemplo.com.br"),
            format!("({area}) 9{:04}-{:04}", n / 10000, n % 10000),
            "Rua Um".into(),
            format!("{}", 1 + n % 999),
            String::new(),
            "Centro".into(),
            if sp {
                "São Paulo".into()
            } else {
                "Rio de Janeiro".into()
            },
            uf.into(),
            if sp {
                "01001-000".into()
            } else {
                "20010-000".into()
            },
            String::new(),
            String::new(),
        ];
        let n_orders = match rng.random_range(0..10) {
            0 => 0,
            1 | 2 => 2,
            _ => 1,
        };
        let mut orders = 0u64;
        let mut dids = 0u64;
        let mut lines = 0u64;
        for o in 0..2 {
            if o < n_orders {
                let product = if rng.random_bool(0.7) {
                    "VOIP-LINHA"
                } else {
                    "VOIP-PABX-RAMAL"
                };
                let qty = rng.random_range(1..3u32);
                let with_did = rng.random_bool(0.3);
                let did = if with_did {
                    // Unique subscriber numbers per file: 3xxx-xxxx.
                    let mut k;
                    loop {
                        k = rng.random_range(0..10_000_000u32);
                        if used_dids.insert((area, k)) {
                            break;
                        }
                    }
                    format!("{area} 3{:03}-{:04}", k / 10_000, k % 10_000)
                } else {
                    String::new()
                };
                f.extend([
                    product.into(),
                    qty.to_string(),
                    area.to_string(),
                    did,
                    String::new(),
                    "2020-01-01".into(),
                    "10".into(),
                ]);
                orders += 1;
                dids += with_did as u64;
                lines += u64::from(qty);
            } else {
                f.extend((0..7).map(|_| String::new()));
            }
        }
        let mut expect: Vec<&'static str> = Vec::new();
        match bad_kind {
            Some(0) => {
                // A CPF with a wrong check digit.
                let mut t = f[0].clone();
                let last = t.pop().expect("digit");
                t.push(if last == '9' {
                    '0'
                } else {
                    char::from(last as u8 + 1)
                });
                f[0] = t;
                expect.push("customer.tax_id");
            }
            Some(1) => {
                f[12] = "123".into();
                expect.push("customer.address.cep");
            }
            Some(2) => {
                f[4] = "not-an-email".into();
                f[11] = "XX".into();
                expect.extend(["customer.emails[0]", "customer.address.uf"]);
            }
            Some(3) => {
                // An order with an unknown product and a bad billing day.
                f[15] = "PLANO-INEXISTENTE".into();
                f[17] = "11".into();
                f[20] = "2020-01-01".into();
                f[21] = "40".into();
                expect.extend(["orders[0].product", "orders[0].billing_day"]);
            }
            Some(4) => {
                f[1] = String::new();
                expect.push("customer.legal_name");
            }
            Some(_) => {
                // A row with a missing field (broken export).
                f.pop();
                expect.push("row");
            }
            None => {}
        }
        let csv_line = f
            .iter()
            .map(|v| {
                if v.contains(',') || v.contains('"') {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(&csv_line);
        out.push('\n');
        if let Some(first) = first {
            g.duplicates.insert(line, first);
        } else if bad_kind.is_some() {
            g.bad.insert(line, expect);
        } else {
            g.good.push(line);
            g.tax_ids.insert(line, tax.clone());
            prev_good.push((line, tax.clone()));
            g.orders += orders;
            g.dids += dids;
            g.lines += lines;
            if rng.random_bool(omie_share) {
                g.in_omie.push(tax);
            }
        }
    }
    g.csv = out;
    g
}

/// Put customers in the Omie sandbox as a legacy system would have (another integration
/// code, or none), so a migration must adopt them.
pub async fn seed_omie(h: &Harness, tax_ids: &[String]) {
    let client = h.sb.omie.client_builder().build().expect("omie client");
    for (i, t) in tax_ids.iter().enumerate() {
        let c = sig_omie::wire::clientes::ClienteCadastro {
            codigo_cliente_integracao: (i % 2 == 0).then(|| format!("legacy-{i}")),
            razao_social: Some(format!("LEGADO {i}")),
            cnpj_cpf: Some(t.clone()),
            estado: Some("SP".into()),
            ..Default::default()
        };
        client
            .incluir_cliente(&c)
            .await
            .expect("seed omie customer");
    }
}

/// Write a file (panics on failure: a fixture).
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}
