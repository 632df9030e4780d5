//! sObject metadata: `GET /sobjects/` (describeGlobal), `GET /sobjects/<Type>` (basic
//! info) and `GET /sobjects/<Type>/describe`. The same per-field metadata drives write
//! validation (`writes.rs`), so what describe says is what the sim enforces.
//!
//! Types follow Salesforce's describe `type` values and match how query renders them:
//! id/reference/string/email/phone/url/textarea/picklist as JSON strings,
//! double/currency/percent as JSON numbers, boolean as JSON booleans, date as
//! `YYYY-MM-DD`, datetime as `YYYY-MM-DDThh:mm:ss.SSS+0000`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::data::{self, FieldDef, Obj, F};
use crate::http;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Id,
    Reference,
    String,
    Email,
    Phone,
    Url,
    Textarea,
    Picklist,
    Currency,
    Percent,
    Boolean,
    Date,
    DateTime,
    Double,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Id => "id",
            DType::Reference => "reference",
            DType::String => "string",
            DType::Email => "email",
            DType::Phone => "phone",
            DType::Url => "url",
            DType::Textarea => "textarea",
            DType::Picklist => "picklist",
            DType::Currency => "currency",
            DType::Percent => "percent",
            DType::Boolean => "boolean",
            DType::Date => "date",
            DType::DateTime => "datetime",
            DType::Double => "double",
        }
    }

    fn soap_type(self) -> &'static str {
        match self {
            DType::Id | DType::Reference => "tns:ID",
            DType::Currency | DType::Percent | DType::Double => "xsd:double",
            DType::Boolean => "xsd:boolean",
            DType::Date => "xsd:date",
            DType::DateTime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }

    /// Text-valued types (length-checked on write).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            DType::String
                | DType::Email
                | DType::Phone
                | DType::Url
                | DType::Textarea
                | DType::Picklist
        )
    }

    pub fn is_number(self) -> bool {
        matches!(self, DType::Currency | DType::Percent | DType::Double)
    }

    /// (precision, scale) as describe reports them.
    fn precision(self) -> (u32, u32) {
        match self {
            DType::Currency => (18, 2),
            DType::Percent => (3, 0),
            DType::Double => (18, 15),
            _ => (0, 0),
        }
    }
}

/// Field metadata. `required` = must be present and non-null on create.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub def: FieldDef,
    pub dtype: DType,
    pub label: &'static str,
    pub length: u32,
    pub required: bool,
    pub createable: bool,
    pub updateable: bool,
    /// Salesforce fills it when omitted (owner, audit fields, checkboxes).
    pub defaulted: bool,
}

impl Meta {
    pub fn nillable(&self) -> bool {
        !self.required && !self.defaulted && self.dtype != DType::Boolean && self.dtype != DType::Id
    }
}

fn id_label(obj: Obj) -> &'static str {
    match obj {
        Obj::Account => "Account ID",
        Obj::Contact => "Contact ID",
        Obj::Opportunity => "Opportunity ID",
        Obj::Note => "Note ID",
        Obj::User => "User ID",
    }
}

pub fn meta(obj: Obj, def: FieldDef) -> Meta {
    use DType as T;
    // (type, label, length, required, createable, updateable, defaulted)
    let ro = |t: T, label: &'static str| (t, label, 0, false, false, false, true);
    let rw = |t: T, label: &'static str, len: u32| (t, label, len, false, true, true, false);
    let req = |t: T, label: &'static str, len: u32| (t, label, len, true, true, true, false);
    let (dtype, label, length, required, createable, updateable, defaulted) = match (obj, def.f) {
        (_, F::Id) => (T::Id, id_label(obj), 18, false, false, false, true),
        (_, F::IsDeleted) => ro(T::Boolean, "Deleted"),
        (_, F::OwnerId) => (T::Reference, "Owner ID", 18, false, true, true, true),
        (_, F::CreatedDate) => ro(T::DateTime, "Created Date"),
        (_, F::CreatedById) => ro(T::Reference, "Created By ID"),
        (_, F::LastModifiedDate) => ro(T::DateTime, "Last Modified Date"),
        (_, F::LastModifiedById) => ro(T::Reference, "Last Modified By ID"),
        (_, F::SystemModstamp) => ro(T::DateTime, "System Modstamp"),
        (_, F::AccountId) => rw(T::Reference, "Account ID", 18),
        (Obj::Contact | Obj::User, F::Name) => {
            (T::String, "Full Name", 121, false, false, false, true)
        }
        (Obj::Contact | Obj::User, F::LastName) => req(T::String, "Last Name", 80),
        (Obj::Contact | Obj::User, F::FirstName) => rw(T::String, "First Name", 40),
        (Obj::Contact, F::Title) => rw(T::String, "Title", 128),
        (Obj::Contact, F::Phone) => rw(T::Phone, "Business Phone", 40),
        (Obj::Contact, F::Email) => rw(T::Email, "Email", 80),
        (Obj::Contact, F::AccountIndustry) => ro(T::String, "Account Industry"),
        (Obj::Opportunity, F::Name) => req(T::String, "Name", 120),
        (Obj::Opportunity, F::StageName) => req(T::Picklist, "Stage", 255),
        (Obj::Opportunity, F::Amount) => rw(T::Currency, "Amount", 0),
        (Obj::Opportunity, F::Probability) => rw(T::Percent, "Probability (%)", 0),
        (Obj::Opportunity, F::CloseDate) => req(T::Date, "Close Date", 0),
        (Obj::Opportunity, F::OppType) => rw(T::Picklist, "Opportunity Type", 255),
        (Obj::Opportunity, F::IsClosed) => ro(T::Boolean, "Closed"),
        (Obj::Opportunity, F::IsWon) => ro(T::Boolean, "Won"),
        // Note.ParentId can be set on create only (as in Salesforce).
        (Obj::Note, F::ParentId) => (T::Reference, "Parent ID", 18, true, true, false, false),
        (Obj::Note, F::Title) => req(T::String, "Title", 80),
        (Obj::Note, F::IsPrivate) => (T::Boolean, "Private", 0, false, true, true, true),
        (Obj::Note, F::Body) => rw(T::Textarea, "Body", 32_000),
        (Obj::Account, F::Name) => req(T::String, "Account Name", 255),
        (Obj::Account, F::AccType) => rw(T::Picklist, "Account Type", 255),
        (Obj::Account, F::Industry) => rw(T::Picklist, "Industry", 255),
        (Obj::Account, F::Phone) => rw(T::Phone, "Account Phone", 40),
        (Obj::Account, F::Website) => rw(T::Url, "Website", 255),
        (Obj::Account, F::BillingCity) => rw(T::String, "Billing City", 40),
        (Obj::Account, F::BillingStreet) => rw(T::Textarea, "Billing Street", 255),
        (Obj::Account, F::BillingPostalCode) => rw(T::String, "Billing Zip/Postal Code", 20),
        (Obj::Account, F::BillingCountry) => rw(T::String, "Billing Country", 80),
        (Obj::Account, F::Latitude) => rw(T::Double, "Location (Latitude)", 0),
        (Obj::Account, F::Longitude) => rw(T::Double, "Location (Longitude)", 0),
        (Obj::User, F::Username) => req(T::String, "Username", 80),
        (Obj::User, F::Alias) => req(T::String, "Alias", 8),
        (Obj::User, F::Email) => req(T::Email, "Email", 128),
        (Obj::User, F::Title) => rw(T::String, "Title", 80),
        (Obj::User, F::IsActive) => (T::Boolean, "Active", 0, false, true, true, true),
        // Not reachable with the schema in data.rs; a string is the safe reading.
        _ => rw(T::String, def.name, 255),
    };
    Meta {
        def,
        dtype,
        label,
        length,
        required,
        createable,
        updateable,
        defaulted,
    }
}

pub fn metas(obj: Obj) -> impl Iterator<Item = Meta> {
    obj.fields().iter().map(move |d| meta(obj, *d))
}

fn picklist(obj: Obj, f: F) -> Vec<&'static str> {
    match (obj, f) {
        (Obj::Opportunity, F::StageName) => data::STAGES.iter().map(|s| s.0).collect(),
        (Obj::Opportunity, F::OppType) => data::OPP_TYPES.to_vec(),
        (Obj::Account, F::AccType) => data::ACCT_TYPES.to_vec(),
        (Obj::Account, F::Industry) => data::INDUSTRIES.to_vec(),
        _ => Vec::new(),
    }
}

fn plural(obj: Obj) -> &'static str {
    match obj {
        Obj::Account => "Accounts",
        Obj::Contact => "Contacts",
        Obj::Opportunity => "Opportunities",
        Obj::Note => "Notes",
        Obj::User => "Users",
    }
}

fn field_json(obj: Obj, m: &Meta) -> Value {
    let rel = obj.rels().iter().find(|r| r.via == m.def.f);
    let reference_to: Vec<&str> = match m.def.ty {
        data::Ty::Ref(target) => vec![target.name()],
        _ => vec![],
    };
    let (precision, scale) = m.dtype.precision();
    let picklist_values: Vec<Value> = picklist(obj, m.def.f)
        .into_iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect();
    // Only long text areas are unfilterable (BillingStreet is a short one).
    let long_text = m.dtype == DType::Textarea && m.length > 255;
    json!({
        "name": m.def.name,
        "label": m.label,
        "type": m.dtype.name(),
        "soapType": m.dtype.soap_type(),
        "length": m.length,
        "precision": precision,
        "scale": scale,
        "nillable": m.nillable(),
        "createable": m.createable,
        "updateable": m.updateable,
        "defaultedOnCreate": m.defaulted,
        "filterable": !long_text,
        "sortable": !long_text,
        "idLookup": m.def.f == F::Id || (obj == Obj::User && m.def.f == F::Username),
        "unique": obj == Obj::User && m.def.f == F::Username,
        "externalId": false,
        "custom": false,
        "calculated": m.def.f == F::AccountIndustry,
        "relationshipName": rel.map(|r| r.name),
        "compoundFieldName": crate::schema::compound_of(obj, m.def.name),
        "deprecatedAndHidden": false,
        "referenceTo": reference_to,
        "picklistValues": picklist_values,
    })
}

fn urls(obj: Obj, version: &str) -> Value {
    let base = format!("/services/data/v{version}/sobjects/{}", obj.name());
    json!({
        "sobject": base,
        "describe": format!("{base}/describe"),
        "rowTemplate": format!("{base}/{{ID}}"),
    })
}

fn summary(obj: Obj, version: &str) -> Value {
    json!({
        "name": obj.name(),
        "label": obj.name(),
        "labelPlural": plural(obj),
        "keyPrefix": String::from_utf8_lossy(obj.prefix()),
        "createable": true,
        "updateable": true,
        "deletable": false,
        "queryable": true,
        "custom": false,
        "urls": urls(obj, version),
    })
}

/// Describe-only fields: compounds (their components are queried) and a base64 field.
fn extra_fields(obj: Obj) -> Vec<Value> {
    let mut out: Vec<Value> = crate::schema::COMPOUNDS
        .iter()
        .filter(|(o, _, _)| *o == obj)
        .map(|(_, name, kind)| {
            json!({
                "name": name, "label": name.trim_end_matches("__c"), "type": kind,
                "soapType": if *kind == "address" { "urn:address" } else { "urn:location" },
                "length": 0, "precision": 0, "scale": 0, "nillable": true, "createable": false,
                "updateable": false, "defaultedOnCreate": false, "filterable": false,
                "sortable": false, "idLookup": false, "unique": false, "externalId": false,
                "custom": name.ends_with("__c"), "calculated": false, "relationshipName": null,
                "referenceTo": [], "picklistValues": [], "compoundFieldName": null,
                "deprecatedAndHidden": false,
            })
        })
        .collect();
    if obj == Obj::Account {
        out.push(json!({
            "name": "Logo__c", "label": "Logo", "type": "base64", "soapType": "xsd:base64Binary",
            "length": 32_000_000, "precision": 0, "scale": 0, "nillable": true,
            "createable": true, "updateable": true, "defaultedOnCreate": false,
            "filterable": false, "sortable": false, "idLookup": false, "unique": false,
            "externalId": false, "custom": true, "calculated": false, "relationshipName": null,
            "referenceTo": [], "picklistValues": [], "compoundFieldName": null,
            "deprecatedAndHidden": false,
        }));
    }
    out
}

/// `GET /sobjects/<Type>/describe` as `user` sees it (field-level security leaves out the
/// fields hidden from them). `text_fields` (`Object.Field`) are described as `string`: another
/// org's schema.
pub fn describe(obj: Obj, version: &str, text_fields: &[String], user: Option<u64>) -> Response {
    let mut v = summary(obj, version);
    if let Value::Object(m) = &mut v {
        let added = crate::schema::added_fields(obj);
        let mut fields: Vec<Value> = metas(obj)
            .chain(added.into_iter().map(|d| meta(obj, d)))
            .filter(|meta| !crate::schema::is_hidden(obj, meta.def.name, user))
            .map(|meta| {
                let mut f = field_json(obj, &meta);
                if text_fields
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&format!("{}.{}", obj.name(), meta.def.name)))
                {
                    f["type"] = json!("string");
                    f["soapType"] = json!("xsd:string");
                }
                if matches!(meta.def.f, F::Extra(_)) {
                    f["custom"] = json!(true);
                }
                f
            })
            .collect();
        fields.extend(extra_fields(obj).into_iter().filter(|f| {
            !crate::schema::is_hidden(obj, f["name"].as_str().unwrap_or_default(), user)
        }));
        m.insert("fields".into(), Value::Array(fields));
        m.insert("childRelationships".into(), Value::Array(vec![]));
    }
    http::json_value(StatusCode::OK, &v)
}

/// `GET /sobjects/<Type>`.
pub fn basic_info(obj: Obj, version: &str) -> Response {
    http::json_value(
        StatusCode::OK,
        &json!({"objectDescribe": summary(obj, version), "recentItems": []}),
    )
}

/// `GET /sobjects/`.
pub fn global(version: &str) -> Response {
    let list: Vec<Value> = Obj::ALL.iter().map(|o| summary(*o, version)).collect();
    http::json_value(
        StatusCode::OK,
        &json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_match_salesforce_defaults() {
        let req = |o: Obj| {
            metas(o)
                .filter(|m| m.required)
                .map(|m| m.def.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(req(Obj::Contact), ["LastName"]);
        assert_eq!(req(Obj::Opportunity), ["Name", "StageName", "CloseDate"]);
        assert_eq!(req(Obj::Account), ["Name"]);
        assert_eq!(req(Obj::Note), ["ParentId", "Title"]);
    }

    #[test]
    fn every_field_type_agrees_with_the_query_renderer() {
        for o in Obj::ALL {
            for m in metas(o) {
                let ok = match m.def.ty {
                    data::Ty::Id => m.dtype == DType::Id,
                    data::Ty::Ref(_) => m.dtype == DType::Reference,
                    data::Ty::Str => m.dtype.is_text(),
                    data::Ty::Num => m.dtype.is_number(),
                    data::Ty::Bool => m.dtype == DType::Boolean,
                    data::Ty::Date => m.dtype == DType::Date,
                    data::Ty::DateTime => m.dtype == DType::DateTime,
                };
                assert!(ok, "{}.{}", o.name(), m.def.name);
            }
        }
    }
}
