//! `sig sandbox` as people use it: serve the sandboxes a configuration points at (accepting its
//! own credentials, nothing secret printed), write a copy of the configuration pointed at
//! them, and run `sig sync --once` against that copy in another process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sig_cli::cmd::demo::DEMO_CONFIG;
use sig_cli::sandboxes::GeneratedSecrets;
use sig_core::config::Config;

const SIG: &str = env!("CARGO_BIN_EXE_sig");

#[test]
fn sig_sandbox_serves_a_config_and_sig_sync_integrates_against_it() {
    let dir = std::env::temp_dir().join(format!(
        "sig-sandbox-cmd-{}-{}",
        std::process::id(),
        sig_core::ids::IntegrationId::new()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("sig.toml");
    std::fs::write(&config, DEMO_CONFIG).unwrap();
    // The environment the configuration's secret references name.
    let secrets = GeneratedSecrets::default();
    let parsed = Config::from_toml(DEMO_CONFIG, &dir, &secrets).unwrap();
    let env = secrets.values();
    let pointed = dir.join("pointed.toml");

    let mut sandbox = Command::new(SIG)
        .args(["sandbox", "--seed-demo", "--omie-scale", "0.01", "--config"])
        .arg(&config)
        .arg("--write-config")
        .arg(&pointed)
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sig sandbox");
    let mut lines = BufReader::new(sandbox.stdout.take().unwrap()).lines();
    let mut announced: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no ready line: {announced:?}");
        let line = lines.next().expect("sig sandbox ended early").unwrap();
        let v: Value = serde_json::from_str(&line).expect("one JSON object per line");
        if v["event"] == "ready" {
            break;
        }
        announced.push(v);
    }
    let count = |system: &str| announced.iter().filter(|v| v["system"] == system).count();
    assert_eq!(count("omie"), 1);
    assert_eq!(count("docsales"), 1);
    assert_eq!(count("nextbilling"), parsed.servers.len());
    assert!(announced.iter().any(|v| v["event"] == "config_written"));
    let printed = announced
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for value in env.values() {
        assert!(!printed.contains(value.as_str()), "a secret was printed");
    }

    // The pointed copy loads and takes the sandboxes' addresses and Omie's window scale.
    let text = std::fs::read_to_string(&pointed).unwrap();
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("time_scale = 0.01"), "{text}");

    let out = Command::new(SIG)
        .args(["sync", "--once", "--json", "--config"])
        .arg(&pointed)
        .envs(&env)
        .output()
        .expect("run sig sync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let pass = events
        .iter()
        .find(|v| v["event"] == "pass")
        .expect("a pass");
    // The demo's 14 proposals: 13 approved are listed, the sent one is not.
    assert_eq!(pass["reconciled"]["seen"], 13, "{pass}");
    let summary = events
        .iter()
        .find(|v| v["event"] == "summary")
        .expect("a summary");
    let c = &summary["integrations"];
    assert_eq!(c["done"], 11, "{summary}");
    assert_eq!(c["held"], 2, "{summary}");
    assert_eq!(c["pending"], 0, "{summary}");

    // A second run finds everything known and creates nothing.
    let again = Command::new(SIG)
        .args(["sync", "--once", "--json", "--config"])
        .arg(&pointed)
        .envs(&env)
        .output()
        .expect("run sig sync again");
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("\"created\":0"), "{again}");

    let _ = Command::new("kill").arg(sandbox.id().to_string()).status();
    let status = sandbox.wait().unwrap();
    assert!(
        status.success(),
        "sig sandbox stops cleanly on SIGTERM: {status}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
