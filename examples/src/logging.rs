//! Structured logs for long-running commands (`sig serve`): JSON lines on stderr through
//! `tracing-subscriber`, each with its span list (`integration`, `step`), and every line passed
//! through a [`Redactor`] before it is written.
//!
//! SIG's own events carry ids, never personal data or secrets (the pipeline, the clients and the
//! webhook endpoint are written that way). The redactor is the net under that rule: it masks
//! anything in a line that looks like a CPF, a CNPJ, an e-mail address, a phone number or a CEP,
//! and replaces every configured secret (API keys, tokens, webhook secrets) wherever it appears,
//! so a message quoted from an upstream answer cannot leak one either.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use regex::{Captures, Regex};
use secrecy::{ExposeSecret, SecretString};
use sig_core::config::{Config, StoreConfig};
use tracing_subscriber::fmt::MakeWriter;

/// How a matched piece of personal data is rewritten.
type Mask = fn(&Captures<'_>) -> String;

/// Masks personal data and known secrets in log lines.
pub struct Redactor {
    secrets: Vec<SecretString>,
    patterns: Vec<(Regex, Mask)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

/// Secrets shorter than this are not searched for (they would mask ordinary words); `sig.toml`
/// secrets are API keys and tokens, far longer.
const MIN_SECRET_LEN: usize = 6;

fn keep_first(c: &Captures<'_>) -> String {
    let m = &c[0];
    let first: String = m.chars().take(1).collect();
    format!("{first}***@***")
}

fn mask_digits(c: &Captures<'_>) -> String {
    c[0].chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { '*' } else { ch })
        .collect()
}

impl Redactor {
    /// A redactor that also replaces these secrets wherever they appear.
    pub fn new(secrets: Vec<SecretString>) -> Self {
        let re = |p: &str| Regex::new(p).expect("static pattern");
        let patterns: Vec<(Regex, Mask)> = vec![
            // E-mail addresses.
            (
                re(r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}"),
                keep_first,
            ),
            // CNPJ, masked form (alphanumeric included): 12.ABC.345/01DE-35.
            (
                re(r"\b[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2}\b"),
                mask_digits,
            ),
            // CPF, masked form: 529.982.247-25.
            (
                re(r"\b[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}\b"),
                mask_digits,
            ),
            // Phones with an area code: (11) 3456-7890, (21) 99876-5432, +55 11 3456 7000.
            (
                re(r"(?:\+55\s?)?(?:\([0-9]{2}\)\s?|\b[0-9]{2}\s)9?[0-9]{4}[\s\-]?[0-9]{4}\b"),
                mask_digits,
            ),
            // CEP: 01304-001.
            (re(r"\b[0-9]{5}-[0-9]{3}\b"), mask_digits),
            // Bare CPF or mobile number (11 digits) and bare CNPJ (14 characters).
            (re(r"\b(?:[0-9]{11}|[0-9A-Z]{12}[0-9]{2})\b"), mask_digits),
        ];
        Redactor {
            secrets: secrets
                .into_iter()
                .filter(|s| s.expose_secret().len() >= MIN_SECRET_LEN)
                .collect(),
            patterns,
        }
    }

    /// A redactor for every secret a configuration holds.
    pub fn for_config(config: &Config) -> Self {
        let mut secrets = Vec::new();
        for a in config.omie_accounts.values() {
            secrets.push(a.app_key.clone());
            secrets.push(a.app_secret.clone());
        }
        for a in config.docsales_accounts.values() {
            secrets.push(a.token.clone());
            secrets.push(a.webhook_secret.clone());
        }
        for s in &config.servers {
            secrets.push(s.api_token.clone());
            secrets.push(s.api_key.clone());
        }
        if let StoreConfig::Postgres(url) = &config.store {
            secrets.push(url.clone());
        }
        Redactor::new(secrets)
    }

    /// The line with secrets replaced and personal data masked.
    pub fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(line);
        for s in &self.secrets {
            let s = s.expose_secret();
            if out.contains(s) {
                out = Cow::Owned(out.replace(s, "[redacted]"));
            }
        }
        for (re, mask) in &self.patterns {
            if re.is_match(&out) {
                out = Cow::Owned(
                    re.replace_all(&out, |c: &Captures<'_>| mask(c))
                        .into_owned(),
                );
            }
        }
        out
    }
}

/// A `MakeWriter` that redacts each line and writes it to stderr.
#[derive(Clone, Debug)]
pub struct RedactingStderr {
    redactor: Arc<Redactor>,
}

impl RedactingStderr {
    /// Over this redactor.
    pub fn new(redactor: Arc<Redactor>) -> Self {
        RedactingStderr { redactor }
    }
}

/// One event's bytes, redacted and written to stderr when dropped (the formatter writes a whole
/// line per event).
pub struct RedactedLine {
    redactor: Arc<Redactor>,
    buf: Vec<u8>,
}

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = self.redactor.redact(&text);
        let mut err = std::io::stderr().lock();
        let r = err.write_all(clean.as_bytes());
        self.buf.clear();
        r
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactedLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            redactor: self.redactor.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// The filter for the log lines: `SIG_LOG` (an `EnvFilter` directive such as `info` or
/// `info,sig::upstream=debug`), else `default`.
pub fn env_filter(default: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("SIG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_and_secrets_are_masked() {
        let r = Redactor::new(vec![
            SecretString::from("sk-live-98af7c"),
            // Too short to search for: it would mask ordinary words.
            SecretString::from("id"),
        ]);
        let line = r#"{"msg":"failed for ana.souza@gmail.com cpf 529.982.247-25 / 52998224725, cnpj 12.ABC.345/01DE-35 and 12ABC34501DE35, phone (21) 99876-5432 or 11 3456-7000, cep 01304-001, key sk-live-98af7c","id":"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","other":"01a214b0-1234-7890-90f1-0b411e274594","erp_id":2485994209,"until":1764102085123,"at":"2026-11-25T21:21:25.123456789Z"}"#;
        let out = r.redact(line);
        for leaked in [
            "ana.souza@gmail.com",
            "gmail.com",
            "529.982.247-25",
            "52998224725",
            "12.ABC.345/01DE-35",
            "12ABC34501DE35",
            "99876-5432",
            "3456-7000",
            "01304-001",
            "sk-live-98af7c",
        ] {
            assert!(!out.contains(leaked), "{leaked} is visible in {out}");
        }
        assert!(out.contains("a***@***"), "{out}");
        assert!(out.contains("[redacted]"), "{out}");
        // Ids, Omie codes, unix-ms instants and timestamps are left alone.
        for kept in [
            "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "01a214b0-1234-7890-90f1-0b411e274594",
            "2485994209",
            "1764102085123",
            "2026-11-25T21:21:25.123456789Z",
            r#""id":"#,
        ] {
            assert!(out.contains(kept), "{kept} was masked in {out}");
        }
    }

    #[test]
    fn clean_lines_are_not_copied() {
        let r = Redactor::new(vec![]);
        assert!(matches!(
            r.redact(r#"{"step":"erp_customer","duration_ms":12}"#),
            Cow::Borrowed(_)
        ));
    }
}
