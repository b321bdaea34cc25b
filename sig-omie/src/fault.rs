//! Classifying Omie faults.
//!
//! Omie answers every failure with `{"faultstring", "faultcode"}` and an HTTP status that
//! cannot be trusted (reference §4), so the class comes from the `faultcode` and the
//! Portuguese text: the duplicate messages carry the Omie id (`nCod [N]`, `Id [N]`) and the
//! integration code in brackets, REDUNDANT says "Aguarde N segundos", the misuse block says
//! "Tente novamente em N segundos" (1800 s when it gives no number).
//!
//! Texts matched, all `[observed]` unless marked:
//! - `Cliente já cadastrado para o Código de Integração [X] com o nCod [N] !` (`Client-102`)
//! - `Cliente já cadastrado para o CPF/CNPJ [doc] com o Id [N] e código de integração [X] !`,
//!   and the older `… cadastrado para o código [N]`
//! - a repeated contract code: any `já cadastrado` text naming `Código de Integração`
//!   [inferred: Omie's contract text is not captured]
//! - `Consumo redundante detectado. Aguarde 43 segundos … (REDUNDANT)` / `…Client-6`
//! - `API bloqueada por consumo indevido. Tente novamente em 1789 segundos.` / `MISUSE_API_PROCESS`
//! - `Já existe uma requisição desse método sendo executada…` (`Client-1880`)
//! - `Não existem registros para a página [N]!` (`Client-5113`)
//! - `A chave de acesso não está preenchida ou não é válida.` (`SOAP-ENV:Server`)
//! - not found: `… não cadastrado …` / `… não encontrado …` `[inferred]`

use std::fmt;
use std::time::Duration;

use crate::wire::FaultBody;

/// Misuse-block wait when Omie gives no number (reference §4).
pub const DEFAULT_MISUSE_BLOCK: Duration = Duration::from_secs(1800);
/// REDUNDANT / method-busy wait when Omie gives no number (reference §8).
pub const DEFAULT_REDUNDANT_WAIT: Duration = Duration::from_secs(60);

/// What an Omie fault means.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultClass {
    /// The integration code is already used (`Client-102` for customers; contracts
    /// `[inferred]`). `omie_id` is the record holding it (`nCod`).
    DuplicateIntegrationCode {
        /// The code in the message.
        integration_code: Option<String>,
        /// The Omie id of the record that holds it.
        omie_id: Option<i64>,
    },
    /// The CPF/CNPJ is already registered: `omie_id` (`Id`) and its integration code, if any.
    DuplicateTaxId {
        /// The Omie id of the record that holds the document.
        omie_id: Option<i64>,
        /// That record's integration code (`None` when it has none).
        integration_code: Option<String>,
    },
    /// `REDUNDANT` / `Client-6`: the same call was made too recently; wait.
    Redundant {
        /// The wait Omie asked for (60 s when it gave none).
        wait: Duration,
    },
    /// `Client-1880`: the same method with the same parameters is still running.
    MethodBusy {
        /// The wait Omie asked for (60 s when it gave none).
        wait: Duration,
    },
    /// `MISUSE_API_PROCESS`: the account is blocked for misuse; no call until the wait ends.
    Misuse {
        /// The block's length (1800 s when Omie gave none).
        wait: Duration,
    },
    /// `Client-5113`: no records on the requested page (the end of a list).
    EndOfPages,
    /// The record asked for does not exist `[inferred texts]`.
    NotFound,
    /// The access key is missing or invalid (one text for every credential defect).
    InvalidCredentials,
    /// Another `SOAP-ENV:Client-*` fault: Omie refused the data.
    Client,
    /// A server-side fault (`SOAP-ENV:Server` other than credentials, or an unknown code).
    Server,
}

impl FaultClass {
    /// A short, stable name (`duplicate_tax_id`), for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            FaultClass::DuplicateIntegrationCode { .. } => "duplicate_integration_code",
            FaultClass::DuplicateTaxId { .. } => "duplicate_tax_id",
            FaultClass::Redundant { .. } => "redundant",
            FaultClass::MethodBusy { .. } => "method_busy",
            FaultClass::Misuse { .. } => "misuse",
            FaultClass::EndOfPages => "end_of_pages",
            FaultClass::NotFound => "not_found",
            FaultClass::InvalidCredentials => "invalid_credentials",
            FaultClass::Client => "client",
            FaultClass::Server => "server",
        }
    }

    /// The wait Omie asked for, if the class has one.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            FaultClass::Redundant { wait }
            | FaultClass::MethodBusy { wait }
            | FaultClass::Misuse { wait } => Some(*wait),
            _ => None,
        }
    }
}

/// An Omie fault: the raw `faultcode` and `faultstring` and what they mean.
#[derive(Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode` as sent.
    pub code: String,
    /// `faultstring` as sent. May contain a CPF/CNPJ: show [`Fault::redacted_message`].
    pub message: String,
    /// The classification.
    pub class: FaultClass,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fault")
            .field("code", &self.code)
            .field("message", &self.redacted_message())
            .field("class", &self.class)
            .finish()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.redacted_message())
    }
}

impl Fault {
    /// Classify a fault body.
    pub fn classify(body: FaultBody) -> Fault {
        let class = classify(&body.faultcode, &body.faultstring);
        Fault {
            code: body.faultcode,
            message: body.faultstring,
            class,
        }
    }

    /// The message with the document in `CPF/CNPJ [...]` masked (LGPD: errors and logs
    /// never show a tax id).
    pub fn redacted_message(&self) -> String {
        redact_tax_ids(&self.message)
    }
}

/// Mask every bracketed value that follows `CPF/CNPJ`, and any other run of 11+ digits.
pub(crate) fn redact_tax_ids(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut rest_lower = lower.as_str();
    while let Some(pos) = rest_lower.find("cpf/cnpj") {
        // `to_lowercase` keeps byte offsets for this ASCII marker only if the prefix is
        // unchanged in length; fall back to a plain digit mask otherwise.
        if rest_lower.len() != rest.len() {
            break;
        }
        let after = pos + "cpf/cnpj".len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        rest_lower = &rest_lower[after..];
        if let (Some(open), Some(close)) = (rest.find('['), rest.find(']'))
            && open < close
            && rest[..open].trim().is_empty()
        {
            out.push_str(&rest[..=open]);
            out.push_str("***");
            out.push(']');
            rest = &rest[close + 1..];
            rest_lower = &rest_lower[close + 1..];
        }
    }
    out.push_str(rest);
    mask_long_digit_runs(&out)
}

fn mask_long_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if digits >= 11 {
            out.push_str("***");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (!run.is_empty() && matches!(c, '.' | '/' | '-')) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The text inside the first `[...]` after `marker` (case-insensitive), trimmed.
fn bracket_after<'a>(text: &'a str, lower: &str, marker: &str) -> Option<&'a str> {
    if lower.len() != text.len() {
        return None;
    }
    let at = lower.find(marker)? + marker.len();
    let open = at + text[at..].find('[')?;
    // The bracket must follow the marker closely (`com o nCod [N]`, not a later field).
    if text[at..open].chars().count() > 4 {
        return None;
    }
    let close = open + text[open..].find(']')?;
    Some(text[open + 1..close].trim())
}

fn int_after(text: &str, lower: &str, marker: &str) -> Option<i64> {
    bracket_after(text, lower, marker)?.parse().ok()
}

/// The number right before `segundo` (`Aguarde 43 segundos`, `em 1789 segundos`).
pub(crate) fn seconds_in(text: &str) -> Option<u64> {
    let lower = text.to_lowercase();
    let at = lower.find("segundo")?;
    let before = lower[..at].trim_end();
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Classify by `faultcode` and message text.
pub fn classify(code: &str, message: &str) -> FaultClass {
    let lower = message.to_lowercase();
    let code_lower = code.to_lowercase();
    let secs = || seconds_in(message).map(Duration::from_secs);

    if code_lower.contains("misuse_api_process") || lower.contains("consumo indevido") {
        return FaultClass::Misuse {
            wait: secs().unwrap_or(DEFAULT_MISUSE_BLOCK),
        };
    }
    if lower.contains("redundant")
        || lower.contains("consumo redundante")
        || code_lower.ends_with("client-6")
    {
        return FaultClass::Redundant {
            wait: secs().unwrap_or(DEFAULT_REDUNDANT_WAIT),
        };
    }
    if code_lower.ends_with("client-1880") || lower.contains("requisição desse método") {
        return FaultClass::MethodBusy {
            wait: secs().unwrap_or(DEFAULT_REDUNDANT_WAIT),
        };
    }
    if code_lower.ends_with("client-5113") || lower.contains("não existem registros para a página")
    {
        return FaultClass::EndOfPages;
    }
    if lower.contains("chave de acesso") {
        return FaultClass::InvalidCredentials;
    }
    if lower.contains("já cadastrado") || lower.contains("ja cadastrado") {
        if lower.contains("cpf/cnpj") {
            return FaultClass::DuplicateTaxId {
                omie_id: int_after(message, &lower, " id"),
                integration_code: nonempty(bracket_after(message, &lower, "integração")),
            };
        }
        if lower.contains("código de integração") {
            return FaultClass::DuplicateIntegrationCode {
                integration_code: nonempty(bracket_after(message, &lower, "integração")),
                omie_id: int_after(message, &lower, "ncodctr")
                    .or_else(|| int_after(message, &lower, "ncod")),
            };
        }
        // The older duplicate-document form: `… cadastrado para o código [N]`.
        return FaultClass::DuplicateTaxId {
            omie_id: int_after(message, &lower, "código"),
            integration_code: None,
        };
    }
    if lower.contains("não cadastrad")
        || lower.contains("não encontrad")
        || lower.contains("não localizad")
    {
        return FaultClass::NotFound;
    }
    if code_lower.contains("client") {
        return FaultClass::Client;
    }
    FaultClass::Server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_carry_ids() {
        let c = classify(
            "SOAP-ENV:Client-102",
            "ERROR: Cliente já cadastrado para o Código de Integração [0190-abc] com o nCod [2485967] !",
        );
        assert_eq!(
            c,
            FaultClass::DuplicateIntegrationCode {
                integration_code: Some("0190-abc".into()),
                omie_id: Some(2485967)
            }
        );
        let c = classify(
            "SOAP-ENV:Client-102",
            "ERROR: Cliente já cadastrado para o CPF/CNPJ [123.456.789-09] com o Id [77] e código de integração [X1] ! (add)",
        );
        assert_eq!(
            c,
            FaultClass::DuplicateTaxId {
                omie_id: Some(77),
                integration_code: Some("X1".into())
            }
        );
        let c = classify(
            "SOAP-ENV:Client-102",
            "ERROR: Cliente já cadastrado para o CPF/CNPJ [123.456.789-09] com o Id [77] e código de integração [] ! (add)",
        );
        assert_eq!(
            c,
            FaultClass::DuplicateTaxId {
                omie_id: Some(77),
                integration_code: None
            }
        );
        let c = classify(
            "SOAP-ENV:Client-102",
            "ERROR: Cliente já cadastrado para o código [55] !",
        );
        assert_eq!(
            c,
            FaultClass::DuplicateTaxId {
                omie_id: Some(55),
                integration_code: None
            }
        );
    }

    #[test]
    fn waits_are_parsed() {
        assert_eq!(
            classify(
                "SOAP-ENV:Client-6",
                "Consumo redundante detectado. Aguarde 43 segundos para tentar novamente (REDUNDANT)"
            ),
            FaultClass::Redundant {
                wait: Duration::from_secs(43)
            }
        );
        assert_eq!(
            classify(
                "MISUSE_API_PROCESS",
                "ERROR: API bloqueada por consumo indevido. Tente novamente em 1789 segundos."
            ),
            FaultClass::Misuse {
                wait: Duration::from_secs(1789)
            }
        );
        assert_eq!(
            classify("MISUSE_API_PROCESS", "API bloqueada."),
            FaultClass::Misuse {
                wait: DEFAULT_MISUSE_BLOCK
            }
        );
        assert_eq!(
            classify(
                "SOAP-ENV:Client-1880",
                "ERROR: Já existe uma requisição desse método sendo executada"
            ),
            FaultClass::MethodBusy {
                wait: DEFAULT_REDUNDANT_WAIT
            }
        );
    }

    #[test]
    fn other_classes() {
        assert_eq!(
            classify(
                "SOAP-ENV:Client-5113",
                "ERROR: Não existem registros para a página [3]!"
            ),
            FaultClass::EndOfPages
        );
        assert_eq!(
            classify(
                "SOAP-ENV:Server",
                "A chave de acesso não está preenchida ou não é válida."
            ),
            FaultClass::InvalidCredentials
        );
        assert_eq!(
            classify("SOAP-ENV:Client-103", "ERROR: Data inválida"),
            FaultClass::Client
        );
        assert_eq!(
            classify("SOAP-ENV:Server", "Erro interno"),
            FaultClass::Server
        );
        assert_eq!(
            classify(
                "SOAP-ENV:Client-101",
                "ERROR: Cliente não cadastrado para o Código de Integração [x] !"
            ),
            FaultClass::NotFound
        );
    }

    #[test]
    fn tax_ids_are_masked() {
        let m = redact_tax_ids(
            "ERROR: Cliente já cadastrado para o CPF/CNPJ [12.345.678/0001-95] com o Id [77] !",
        );
        assert!(!m.contains("12.345"), "{m}");
        assert!(m.contains("[***]") && m.contains("[77]"), "{m}");
        assert_eq!(redact_tax_ids("doc 12345678909 end"), "doc *** end");
    }
}
