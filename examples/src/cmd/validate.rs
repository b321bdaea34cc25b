//! `sig validate`: values from stdin, or proposal documents, to JSON lines.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::ValueEnum;
use serde_json::{Value, json};
use sig_core::config::Catalog;
use sig_core::raw::RawProposal;
use sig_core::{Cep, Cnpj, Cpf, Email, Invalid, Phone, TaxId};

use super::EXAMPLE_CONFIG;
use crate::{CliError, Outcome};

/// What kind of value each stdin line holds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A CPF.
    Cpf,
    /// A CNPJ (numeric or alphanumeric).
    Cnpj,
    /// A CPF or a CNPJ.
    TaxId,
    /// A CEP.
    Cep,
    /// A Brazilian phone number.
    Phone,
    /// An e-mail address.
    Email,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Cpf => "cpf",
            Kind::Cnpj => "cnpj",
            Kind::TaxId => "tax_id",
            Kind::Cep => "cep",
            Kind::Phone => "phone",
            Kind::Email => "email",
        }
    }

    /// Canonical and formatted forms, or the rejection.
    fn check(self, s: &str) -> Result<(String, String), Invalid> {
        Ok(match self {
            Kind::Cpf => s
                .parse::<Cpf>()
                .map(|v| (v.as_str().to_owned(), v.formatted()))?,
            Kind::Cnpj => s
                .parse::<Cnpj>()
                .map(|v| (v.as_str().to_owned(), v.formatted()))?,
            Kind::TaxId => s
                .parse::<TaxId>()
                .map(|v| (v.as_str().to_owned(), v.formatted()))?,
            Kind::Cep => s
                .parse::<Cep>()
                .map(|v| (v.as_str().to_owned(), v.formatted()))?,
            Kind::Phone => s.parse::<Phone>().map(|v| (v.e164(), v.to_string()))?,
            Kind::Email => s
                .parse::<Email>()
                .map(|v| (v.as_str().to_owned(), v.to_string()))?,
        })
    }
}

/// `sig validate` arguments.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["kind", "proposal"])))]
pub struct Args {
    /// Validate one value per line from stdin.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Validate proposal documents (RawProposal JSON); may be repeated.
    #[arg(long, value_name = "FILE.json")]
    proposal: Vec<PathBuf>,
    /// The sig.toml whose catalog maps products to plans (default: the shipped example).
    #[arg(long, value_name = "sig.toml")]
    config: Option<PathBuf>,
}

/// Run the command.
pub fn run(args: Args) -> Result<Outcome, CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let findings = if let Some(kind) = args.kind {
        values(kind, std::io::stdin().lock(), &mut out)?
    } else {
        let catalog = load_catalog(args.config.as_deref())?;
        let mut findings = false;
        for path in &args.proposal {
            let line = proposal(path, &catalog);
            findings |= !line["valid"].as_bool().unwrap_or(false);
            writeln!(out, "{line}").map_err(write_failed)?;
        }
        findings
    };
    out.flush().map_err(write_failed)?;
    Ok(if findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn write_failed(e: std::io::Error) -> CliError {
    CliError::Failed(format!("cannot write output: {e}"))
}

fn load_catalog(path: Option<&std::path::Path>) -> Result<Catalog, CliError> {
    let (text, name) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        None => (
            EXAMPLE_CONFIG.to_owned(),
            "the example configuration".to_owned(),
        ),
    };
    Catalog::from_config_toml(&text).map_err(|e| CliError::Usage(format!("{name}: {e}")))
}

/// One JSON line per input line; returns whether any was invalid.
fn values(kind: Kind, mut input: impl BufRead, out: &mut impl Write) -> Result<bool, CliError> {
    let mut buf = Vec::new();
    let mut findings = false;
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| CliError::Failed(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        if buf.ends_with(b"\n") {
            buf.pop();
            if buf.ends_with(b"\r") {
                buf.pop();
            }
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => json_line(kind, s),
            Err(_) => {
                let shown = String::from_utf8_lossy(&buf);
                let e = Invalid::new(sig_core::Code::InvalidFormat, "the line is not valid UTF-8");
                verdict(&shown, Err(e.at(kind.field())))
            }
        };
        findings |= !line["valid"].as_bool().unwrap_or(false);
        writeln!(out, "{line}").map_err(write_failed)?;
    }
    Ok(findings)
}

fn json_line(kind: Kind, s: &str) -> Value {
    verdict(s, kind.check(s).map_err(|e| e.at(kind.field())))
}

fn verdict(input: &str, r: Result<(String, String), sig_core::Problem>) -> Value {
    match r {
        Ok((canonical, formatted)) => json!({
            "input": input, "valid": true, "canonical": canonical, "formatted": formatted, "errors": []
        }),
        Err(p) => json!({
            "input": input, "valid": false, "canonical": null, "formatted": null, "errors": [p]
        }),
    }
}

fn proposal(path: &std::path::Path, catalog: &Catalog) -> Value {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return json!({"file": file, "valid": false, "proposal": null,
                "errors": [{"field": "(file)", "code": "required", "message": format!("cannot read: {e}")}]});
        }
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    let raw: RawProposal = match serde_path_to_error::deserialize(de) {
        Ok(r) => r,
        Err(e) => {
            let field = e.path().to_string();
            return json!({"file": file, "valid": false, "proposal": null,
                "errors": [{"field": field, "code": "invalid_format", "message": e.into_inner().to_string()}]});
        }
    };
    match raw.validate(catalog) {
        Ok(p) => json!({"file": file, "valid": true, "proposal": p, "errors": []}),
        Err(problems) => {
            json!({"file": file, "valid": false, "proposal": null, "errors": problems})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_values(kind: Kind, input: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        values(kind, input, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn one_json_object_per_line_with_the_documented_keys() {
        let lines = run_values(
            Kind::TaxId,
            b"529.982.247-25\n12abc34501de35\r\n123\n\xff\xfe\n",
        );
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["canonical"], "52998224725");
        assert_eq!(lines[0]["formatted"], "529.982.247-25");
        assert_eq!(lines[1]["canonical"], "12ABC34501DE35");
        assert_eq!(lines[1]["formatted"], "12.ABC.345/01DE-35");
        assert_eq!(lines[2]["valid"], false);
        assert_eq!(lines[2]["canonical"], Value::Null);
        assert_eq!(lines[2]["errors"][0]["field"], "tax_id");
        assert_eq!(lines[2]["errors"][0]["code"], "wrong_length");
        assert_eq!(lines[3]["errors"][0]["code"], "invalid_format");
        for l in &lines {
            let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 5, "{l}");
        }
    }

    #[test]
    fn phones_ceps_and_emails() {
        let l = run_values(Kind::Phone, b"(11) 98765-4321\n");
        assert_eq!(l[0]["canonical"], "+5511987654321");
        let l = run_values(Kind::Cep, b"01001-000\n");
        assert_eq!(l[0]["formatted"], "01001-000");
        let l = run_values(Kind::Email, b"x@Y.com\n");
        assert_eq!(l[0]["canonical"], "x@y.com");
    }

    #[test]
    fn example_catalog_loads() {
        let c = load_catalog(None).unwrap();
        assert!(c.resolve("VOIP-LINHA").is_some());
    }
}
