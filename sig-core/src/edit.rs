//! Edits of proposal data before integration (roadmap §1, "Edição Manual"): a typed patch of
//! field path → new value over a [`RawProposal`].
//!
//! Paths are the [`RawProposal`] paths the validation reports and the authorization policy
//! checks ([`FieldRef`]): `customer.address.cep`, `orders[1].billing_day`, a whole list
//! `orders[1].dids` or one item of it `customer.emails[0]`. Values are text (numbers are read
//! as text, as everywhere in [`RawProposal`]), a list for a whole list field, or nothing
//! (`null`, an empty value) to clear a field or remove a list item.
//!
//! Item edits of one list refer to the list **as it was before the patch**: `emails[0]` and
//! `emails[2]` name the first and third original e-mails even when the patch removes one of
//! them; the item right after the last (`emails[n]` for a list of `n`) appends. A patch may
//! not name the same path twice, nor a whole list together with one of its items.
//!
//! [`ProposalPatch::apply`] returns the patched proposal and the before and after values of
//! every field that changed (what the audit keeps), or every problem of the patch at once.
//! Whether the actor may edit each field is the authorization policy's question
//! ([`crate::authz`]); whether the result is a valid proposal is the validation's.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authz::{Field, FieldRef};
use crate::problem::{Code, Problem, Problems, trim_ascii};
use crate::raw::{RawProposal, RawSeller};

/// Longest text an edit may set (longer values are refused before validation).
pub const MAX_VALUE_LEN: usize = 1000;

/// A new value for one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditValue {
    /// Clear the field (or remove the list item).
    Clear,
    /// A text value (or one list item).
    Text(String),
    /// A whole list.
    List(Vec<String>),
}

impl EditValue {
    /// From JSON: `null` clears, text and numbers are text, an array of those is a list.
    pub fn from_json(v: &Value) -> Result<EditValue, String> {
        fn scalar(v: &Value) -> Result<Option<String>, String> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                Value::Number(n) => Ok(Some(n.to_string())),
                Value::Bool(b) => Ok(Some(b.to_string())),
                _ => Err("expected text, a number, null or a list of text".into()),
            }
        }
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(s) = scalar(item)? {
                        out.push(s);
                    }
                }
                Ok(EditValue::List(out))
            }
            other => Ok(scalar(other)?.map_or(EditValue::Clear, EditValue::Text)),
        }
    }

    /// As JSON (`null`, text, or a list).
    pub fn to_json(&self) -> Value {
        match self {
            EditValue::Clear => Value::Null,
            EditValue::Text(s) => Value::String(s.clone()),
            EditValue::List(v) => Value::from(v.clone()),
        }
    }
}

impl From<&str> for EditValue {
    fn from(s: &str) -> Self {
        EditValue::Text(s.to_owned())
    }
}

impl Serialize for EditValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EditValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EditValue::from_json(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One edit: a concrete field path and its new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEdit {
    /// The field and its indexes.
    pub target: FieldRef,
    /// The new value.
    pub value: EditValue,
}

impl FieldEdit {
    /// The concrete path (`orders[1].dids[0]`).
    pub fn path(&self) -> String {
        self.target.to_string()
    }
}

/// The before and after value of one field an edit changed (JSON `null`, text or a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The concrete path.
    pub field: String,
    /// The value before.
    pub before: Value,
    /// The value after.
    pub after: Value,
}

/// A set of edits to apply to a proposal at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposalPatch {
    edits: Vec<FieldEdit>,
}

impl fmt::Display for ProposalPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<String> = self.edits.iter().map(FieldEdit::path).collect();
        f.write_str(&paths.join(", "))
    }
}

fn problem(field: &str, code: Code, message: impl Into<String>) -> Problem {
    Problem {
        field: field.to_owned(),
        code,
        message: message.into(),
        source_field: None,
    }
}

fn check_len(path: &str, s: &str) -> Result<(), Problem> {
    if s.len() > MAX_VALUE_LEN {
        return Err(problem(
            path,
            Code::TooLong,
            format!("at most {MAX_VALUE_LEN} characters"),
        ));
    }
    Ok(())
}

impl ProposalPatch {
    /// An empty patch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The edits, in the order given.
    pub fn edits(&self) -> &[FieldEdit] {
        &self.edits
    }

    /// Whether it has no edits.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The concrete paths it edits.
    pub fn paths(&self) -> Vec<String> {
        self.edits.iter().map(FieldEdit::path).collect()
    }

    /// Add an edit. Refused (with the path): a path that names no editable field, a list for a
    /// single-value field, a path already in the patch, a whole list together with one of its
    /// items, a value longer than [`MAX_VALUE_LEN`].
    pub fn push(&mut self, path: &str, value: EditValue) -> Result<(), Problem> {
        let shown = trim_ascii(path);
        let Some(target) = FieldRef::parse(shown) else {
            return Err(problem(
                shown,
                Code::UnknownReference,
                "not an editable field path (customer.address.cep, orders[1].dids, customer.emails[0], …)",
            ));
        };
        let path = target.to_string();
        let value = match (target.field.is_list() && target.item.is_none(), value) {
            (true, EditValue::Text(s)) => EditValue::List(vec![s]),
            (true, v) => v,
            (false, EditValue::List(_)) => {
                return Err(problem(
                    &path,
                    Code::InvalidFormat,
                    "a list was given for a single value",
                ));
            }
            (false, v) => v,
        };
        match &value {
            EditValue::Text(s) => check_len(&path, s)?,
            EditValue::List(v) => {
                for s in v {
                    check_len(&path, s)?;
                }
            }
            EditValue::Clear => {}
        }
        for e in &self.edits {
            let same_list = e.target.field == target.field && e.target.order == target.order;
            if e.target == target {
                return Err(problem(
                    &path,
                    Code::Duplicate,
                    "the patch names this field twice",
                ));
            }
            if same_list && (e.target.item.is_none() || target.item.is_none()) {
                return Err(problem(
                    &path,
                    Code::Inconsistent,
                    format!(
                        "the patch edits the whole list and one of its items ({})",
                        e.path()
                    ),
                ));
            }
        }
        self.edits.push(FieldEdit { target, value });
        Ok(())
    }

    /// A patch from `path=value` assignments (the CLI's `--set`). An empty value clears; the
    /// value of a whole list field is split on commas.
    pub fn from_assignments<S: AsRef<str>>(
        items: impl IntoIterator<Item = S>,
    ) -> Result<ProposalPatch, Problems> {
        let mut patch = ProposalPatch::new();
        let mut p = Problems::new();
        for item in items {
            let item = item.as_ref();
            let Some((path, value)) = item.split_once('=') else {
                p.push(problem(
                    trim_ascii(item),
                    Code::InvalidFormat,
                    "an edit is written field=value",
                ));
                continue;
            };
            let whole_list =
                FieldRef::parse(path).is_some_and(|r| r.field.is_list() && r.item.is_none());
            let value = if whole_list {
                EditValue::List(
                    value
                        .split(',')
                        .map(trim_ascii)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            } else if trim_ascii(value).is_empty() {
                EditValue::Clear
            } else {
                EditValue::Text(value.to_owned())
            };
            if let Err(x) = patch.push(path, value) {
                p.push(x);
            }
        }
        p.into_result(patch)
    }

    /// A patch from a JSON object `{"customer.address.cep": "01310-100", "orders[0].dids":
    /// ["11 3456-7000"], "customer.trade_name": null}`.
    pub fn from_json(v: &Value) -> Result<ProposalPatch, Problems> {
        let mut p = Problems::new();
        let Some(obj) = v.as_object() else {
            p.add(
                "(patch)",
                Code::InvalidFormat,
                "a patch is a JSON object of field path → value",
            );
            return Err(p);
        };
        let mut patch = ProposalPatch::new();
        for (path, value) in obj {
            match EditValue::from_json(value) {
                Ok(value) => {
                    if let Err(x) = patch.push(path, value) {
                        p.push(x);
                    }
                }
                Err(m) => p.add(path.as_str(), Code::InvalidFormat, m),
            }
        }
        p.into_result(patch)
    }

    /// The patch as a JSON object (path → value).
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.edits
                .iter()
                .map(|e| (e.path(), e.value.to_json()))
                .collect(),
        )
    }

    /// Apply to `raw`: the patched proposal and the fields that changed (before and after), or
    /// every problem (an order or item that does not exist) with nothing applied.
    pub fn apply(&self, raw: &RawProposal) -> Result<(RawProposal, Vec<FieldChange>), Problems> {
        let mut out = raw.clone();
        let mut p = Problems::new();
        let mut changes = Vec::new();
        // Item edits grouped per list, applied against the list as it was.
        let mut items: BTreeMap<(Field, Option<usize>), Vec<&FieldEdit>> = BTreeMap::new();
        for e in &self.edits {
            let path = e.path();
            if let Some(i) = e.target.order
                && i >= raw.orders.len()
            {
                p.add(
                    &path,
                    Code::OutOfRange,
                    format!("the proposal has {} order(s)", raw.orders.len()),
                );
                continue;
            }
            if e.target.item.is_some() {
                items
                    .entry((e.target.field, e.target.order))
                    .or_default()
                    .push(e);
                continue;
            }
            match (slot(&mut out, e.target.field, e.target.order), &e.value) {
                (Slot::One(v), value) => {
                    let after = match value {
                        EditValue::Text(s) if !trim_ascii(s).is_empty() => Some(s.clone()),
                        _ => None,
                    };
                    if *v != after {
                        changes.push(FieldChange {
                            field: path,
                            before: Value::from(v.clone()),
                            after: Value::from(after.clone()),
                        });
                        *v = after;
                    }
                }
                (Slot::Many(v), value) => {
                    let after: Vec<String> = match value {
                        EditValue::List(l) => l
                            .iter()
                            .filter(|s| !trim_ascii(s).is_empty())
                            .cloned()
                            .collect(),
                        EditValue::Text(s) if !trim_ascii(s).is_empty() => vec![s.clone()],
                        _ => vec![],
                    };
                    if *v != after {
                        changes.push(FieldChange {
                            field: path,
                            before: Value::from(v.clone()),
                            after: Value::from(after.clone()),
                        });
                        *v = after;
                    }
                }
            }
        }
        for ((field, order), edits) in items {
            let Slot::Many(list) = slot(&mut out, field, order) else {
                continue;
            };
            let original = list.clone();
            let mut replaced: BTreeMap<usize, Option<String>> = BTreeMap::new();
            let mut appended: Option<String> = None;
            for e in edits {
                let path = e.path();
                let j = e.target.item.unwrap_or(0);
                let value = match &e.value {
                    EditValue::Text(s) if !trim_ascii(s).is_empty() => Some(s.clone()),
                    _ => None,
                };
                if j < original.len() {
                    if original[j].as_str() != value.as_deref().unwrap_or_default() {
                        changes.push(FieldChange {
                            field: path,
                            before: Value::from(original[j].clone()),
                            after: Value::from(value.clone()),
                        });
                    }
                    replaced.insert(j, value);
                } else if j == original.len() {
                    if let Some(v) = value {
                        changes.push(FieldChange {
                            field: path,
                            before: Value::Null,
                            after: Value::from(v.clone()),
                        });
                        appended = Some(v);
                    }
                } else {
                    p.add(
                        &path,
                        Code::OutOfRange,
                        format!(
                            "the list has {} item(s); item {} appends",
                            original.len(),
                            original.len()
                        ),
                    );
                }
            }
            let mut new: Vec<String> = original
                .iter()
                .enumerate()
                .filter_map(|(j, old)| match replaced.get(&j) {
                    Some(v) => v.clone(),
                    None => Some(old.clone()),
                })
                .collect();
            new.extend(appended);
            *list = new;
        }
        if out
            .seller
            .as_ref()
            .is_some_and(|s| s.name.is_none() && s.email.is_none())
        {
            out.seller = None;
        }
        changes.sort_by(|a, b| a.field.cmp(&b.field));
        p.into_result((out, changes))
    }
}

enum Slot<'a> {
    One(&'a mut Option<String>),
    Many(&'a mut Vec<String>),
}

/// The storage of a field (the order index is in range: checked by the caller).
fn slot(raw: &mut RawProposal, field: Field, order: Option<usize>) -> Slot<'_> {
    use Field::*;
    let c = &mut raw.customer;
    match field {
        CustomerTaxId => Slot::One(&mut c.tax_id),
        CustomerLegalName => Slot::One(&mut c.legal_name),
        CustomerTradeName => Slot::One(&mut c.trade_name),
        CustomerContactName => Slot::One(&mut c.contact_name),
        CustomerEmails => Slot::Many(&mut c.emails),
        CustomerPhones => Slot::Many(&mut c.phones),
        AddressStreet => Slot::One(&mut c.address.street),
        AddressNumber => Slot::One(&mut c.address.number),
        AddressComplement => Slot::One(&mut c.address.complement),
        AddressDistrict => Slot::One(&mut c.address.district),
        AddressCity => Slot::One(&mut c.address.city),
        AddressUf => Slot::One(&mut c.address.uf),
        AddressCep => Slot::One(&mut c.address.cep),
        CustomerStateRegistration => Slot::One(&mut c.state_registration),
        CustomerMunicipalRegistration => Slot::One(&mut c.municipal_registration),
        SellerName => Slot::One(&mut raw.seller.get_or_insert_with(RawSeller::default).name),
        SellerEmail => Slot::One(&mut raw.seller.get_or_insert_with(RawSeller::default).email),
        OrderProduct | OrderQuantity | OrderSipLines | OrderChannels | OrderAreaCode
        | OrderDids | OrderMonthlyValue | OrderStartDate | OrderBillingDay => {
            let o = &mut raw.orders[order.unwrap_or(0)];
            match field {
                OrderProduct => Slot::One(&mut o.product),
                OrderQuantity => Slot::One(&mut o.quantity),
                OrderSipLines => Slot::One(&mut o.sip_lines),
                OrderChannels => Slot::One(&mut o.channels),
                OrderAreaCode => Slot::One(&mut o.area_code),
                OrderDids => Slot::Many(&mut o.dids),
                OrderMonthlyValue => Slot::One(&mut o.monthly_value),
                OrderStartDate => Slot::One(&mut o.start_date),
                _ => Slot::One(&mut o.billing_day),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawOrder;

    fn raw() -> RawProposal {
        let mut r = RawProposal::default();
        r.customer.tax_id = Some("529.982.247-25".into());
        r.customer.emails = vec![
            "a@x.com.br".into(),
            "b@x.com.br".into(),
            "c@x.com.br".into(),
        ];
        r.customer.address.cep = Some("01304-00".into());
        r.orders = vec![
            RawOrder {
                dids: vec!["11 3456-7000".into()],
                ..Default::default()
            },
            RawOrder {
                billing_day: Some("10".into()),
                ..Default::default()
            },
        ];
        r
    }

    #[test]
    fn every_field_path_reaches_its_field() {
        for f in Field::ALL {
            let path = f.as_str().replace("orders[]", "orders[1]");
            let mut patch = ProposalPatch::new();
            let value = if f.is_list() {
                EditValue::List(vec!["zz".into()])
            } else {
                EditValue::Text("zz".into())
            };
            patch.push(&path, value).unwrap();
            let (out, changes) = patch.apply(&raw()).unwrap();
            assert_eq!(changes.len(), 1, "{path}");
            assert_eq!(changes[0].field, path);
            let j = serde_json::to_value(&out).unwrap();
            let mut v = &j;
            for part in f.as_str().replace("orders[]", "orders.1").split('.') {
                v = match part.parse::<usize>() {
                    Ok(i) => &v[i],
                    Err(_) => &v[part],
                };
            }
            let want = if f.is_list() {
                serde_json::json!(["zz"])
            } else {
                serde_json::json!("zz")
            };
            assert_eq!(v, &want, "{path} in {j}");
        }
    }

    #[test]
    fn applies_values_lists_items_and_clears_with_before_and_after() {
        let patch = ProposalPatch::from_json(&serde_json::json!({
            "customer.address.cep": "01304-001",
            "customer.emails[1]": null,
            "customer.emails[0]": "ana@x.com.br",
            "customer.emails[3]": "d@x.com.br",
            "orders[0].dids": ["11 3456-7000", "11 3456-7001"],
            "orders[1].billing_day": 15,
            "customer.tax_id": "529.982.247-25",
        }))
        .unwrap();
        let (out, changes) = patch.apply(&raw()).unwrap();
        assert_eq!(out.customer.address.cep.as_deref(), Some("01304-001"));
        assert_eq!(
            out.customer.emails,
            vec!["ana@x.com.br", "c@x.com.br", "d@x.com.br"]
        );
        assert_eq!(out.orders[0].dids.len(), 2);
        assert_eq!(out.orders[1].billing_day.as_deref(), Some("15"));
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "customer.address.cep",
                "customer.emails[0]",
                "customer.emails[1]",
                "customer.emails[3]",
                "orders[0].dids",
                "orders[1].billing_day"
            ],
            "an unchanged tax id is no change"
        );
        let cep = &changes[0];
        assert_eq!(
            (&cep.before, &cep.after),
            (
                &serde_json::json!("01304-00"),
                &serde_json::json!("01304-001")
            )
        );
        assert_eq!(changes[2].after, Value::Null);
    }

    #[test]
    fn bad_patches_report_every_problem_and_apply_nothing() {
        let err = ProposalPatch::from_assignments([
            "customer.password=x",
            "customer.address.cep",
            "orders[0].billing_day=1",
            "orders[0].billing_day=2",
            "orders[0].dids=11 3456-7000",
            "orders[0].dids[0]=11 3456-7001",
        ])
        .unwrap_err();
        let got: Vec<(&str, Code)> = err.iter().map(|p| (p.field.as_str(), p.code)).collect();
        assert_eq!(
            got,
            vec![
                ("customer.password", Code::UnknownReference),
                ("customer.address.cep", Code::InvalidFormat),
                ("orders[0].billing_day", Code::Duplicate),
                ("orders[0].dids[0]", Code::Inconsistent),
            ]
        );
        let patch = ProposalPatch::from_json(&serde_json::json!({
            "orders[5].billing_day": "1",
            "customer.emails[7]": "x@y.com.br",
            "customer.address.cep": "01304-001",
        }))
        .unwrap();
        let err = patch.apply(&raw()).unwrap_err();
        let got: Vec<(&str, Code)> = err.iter().map(|p| (p.field.as_str(), p.code)).collect();
        assert_eq!(
            got,
            vec![
                ("orders[5].billing_day", Code::OutOfRange),
                ("customer.emails[7]", Code::OutOfRange),
            ]
        );
        assert!(
            ProposalPatch::from_json(&serde_json::json!({"customer.tax_id": ["1"]})).is_err(),
            "a list for a single value"
        );
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let err =
            ProposalPatch::from_json(&serde_json::json!({ "seller.name": long })).unwrap_err();
        assert_eq!(err.0[0].code, Code::TooLong);
        assert!(ProposalPatch::from_json(&serde_json::json!(["x"])).is_err());
    }

    #[test]
    fn assignments_split_lists_and_clear_on_empty() {
        let patch = ProposalPatch::from_assignments([
            "orders[0].dids=11 3456-7000, 11 3456-7001",
            "customer.trade_name=",
            "seller.email=v@x.com.br",
        ])
        .unwrap();
        assert_eq!(
            patch.to_json(),
            serde_json::json!({
                "orders[0].dids": ["11 3456-7000", "11 3456-7001"],
                "customer.trade_name": null,
                "seller.email": "v@x.com.br",
            })
        );
        let (out, _) = patch.apply(&raw()).unwrap();
        assert_eq!(
            out.seller.as_ref().and_then(|s| s.email.as_deref()),
            Some("v@x.com.br")
        );
        let clear = ProposalPatch::from_assignments(["seller.name="]).unwrap();
        let (out, changes) = clear.apply(&raw()).unwrap();
        assert!(out.seller.is_none(), "no empty seller is made up");
        assert!(changes.is_empty());
    }
}
