//! Checks JSON bodies against the services' published OpenAPI 3.0 contracts in `../shared/contracts/`.
//!
//! Requests are checked strictly (an undeclared property is a violation: the real service would reject or
//! silently drop it), responses tolerantly (Xero and Zoho add envelope fields their specs do not declare).
//! Used only by tests; production code never loads the specs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

/// Whether undeclared properties are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// For what our code sends: every object schema that lists properties gets `additionalProperties: false`.
    Strict,
    /// For what a service returns.
    Tolerant,
}

/// One OpenAPI document, normalised to JSON Schema (draft 4, as OpenAPI 3.0 uses).
pub struct Contract {
    name: &'static str,
    strict: Value,
    tolerant: Value,
    validators: Mutex<HashMap<(String, Mode), Arc<Validator>>>,
}

/// A body that leaves the contract: where and why, one line per violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<String>);

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for Violations {}

/// `../shared/contracts`, or `XERO_SYNC_CONTRACTS_DIR` when set.
pub fn contracts_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XERO_SYNC_CONTRACTS_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts")
}

fn load(name: &'static str, relative: &str) -> Contract {
    let path = contracts_dir().join(relative);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read contract {}: {e}", path.display()));
    let doc: Value = if relative.ends_with(".json") {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    Contract::from_openapi(name, doc)
}

static XERO_ACCOUNTING: LazyLock<Contract> = LazyLock::new(|| load("xero_accounting", "xero/xero_accounting.yaml"));
static XERO_IDENTITY: LazyLock<Contract> = LazyLock::new(|| load("xero_identity", "xero/xero-identity.yaml"));
static ZOHO_RECORD: LazyLock<Contract> = LazyLock::new(|| load("zoho_record", "zoho/crm-oas-v8-record.json"));
static ZOHO_COQL: LazyLock<Contract> = LazyLock::new(|| load("zoho_coql", "zoho/crm-oas-v8-coql.json"));

impl Contract {
    pub fn xero_accounting() -> &'static Contract {
        &XERO_ACCOUNTING
    }
    pub fn xero_identity() -> &'static Contract {
        &XERO_IDENTITY
    }
    pub fn zoho_record() -> &'static Contract {
        &ZOHO_RECORD
    }
    pub fn zoho_coql() -> &'static Contract {
        &ZOHO_COQL
    }

    pub fn from_openapi(name: &'static str, mut doc: Value) -> Contract {
        normalise(&mut doc);
        discriminate_one_of(&mut doc);
        let mut strict = doc.clone();
        close_objects(&mut strict);
        open_error_enums(&mut doc);
        Contract { name, strict, tolerant: doc, validators: Mutex::new(HashMap::new()) }
    }

    /// The raw (normalised) document, for tests that read examples out of it.
    pub fn document(&self) -> &Value {
        &self.tolerant
    }

    /// Checks `instance` against `components.schemas.<schema>`.
    pub fn check_schema(&self, schema: &str, mode: Mode, instance: &Value) -> Result<(), Violations> {
        self.check_pointer(&format!("#/components/schemas/{schema}"), mode, instance)
    }

    /// Checks a request body against the operation's `requestBody` (strictly).
    /// `path` is relative to the server URL, e.g. `/Items/8f2…` or `/crm/v8/Products`.
    pub fn check_request(&self, method: &str, path: &str, body: &Value) -> Result<(), Violations> {
        let (template, op) = self.operation(method, path)?;
        let pointer = format!(
            "#/paths/{}/{}/requestBody/content/application~1json/schema",
            escape(&template),
            method.to_ascii_lowercase()
        );
        if op.pointer("/requestBody/content/application~1json/schema").is_none() {
            return Err(Violations(vec![format!("{}: {method} {template} declares no JSON request body", self.name)]));
        }
        self.check_pointer(&pointer, Mode::Strict, body)
    }

    /// Checks a response body against the operation's declared response for `status` (tolerantly).
    /// A status the operation does not declare (and no `default`) is a violation.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), Violations> {
        let (template, op) = self.operation(method, path)?;
        let responses = op.get("responses").and_then(Value::as_object);
        let key = [status.to_string(), format!("{}XX", status / 100), "default".to_string()]
            .into_iter()
            .find(|k| responses.is_some_and(|r| r.contains_key(k)))
            .ok_or_else(|| {
                Violations(vec![format!("{}: {method} {template} does not declare status {status}", self.name)])
            })?;
        let mut response = &op["responses"][&key];
        // Shared responses are referenced (`#/components/responses/400Error`).
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = self
                .resolve(reference)
                .ok_or_else(|| Violations(vec![format!("{}: unresolvable response {reference}", self.name)]))?;
        }
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Ok(()); // the status declares no body (204 and the like)
        };
        let wrapper = serde_json::json!({ "schema": schema });
        self.check_inline(&wrapper["schema"], Mode::Tolerant, body)
    }

    fn operation(&self, method: &str, path: &str) -> Result<(String, &Value), Violations> {
        let method = method.to_ascii_lowercase();
        let path = path.split('?').next().unwrap_or(path);
        let paths = self.tolerant.get("paths").and_then(Value::as_object);
        let mut best: Option<(usize, &String, &Value)> = None;
        for (template, item) in paths.into_iter().flatten() {
            let Some(literals) = match_template(template, path) else { continue };
            let Some(op) = item.get(&method) else { continue };
            if best.is_none_or(|(n, _, _)| literals > n) {
                best = Some((literals, template, op));
            }
        }
        best.map(|(_, t, op)| (t.clone(), op))
            .ok_or_else(|| Violations(vec![format!("{}: no operation {} {path}", self.name, method.to_uppercase())]))
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?.replace("%7B", "{").replace("%7D", "}");
        self.tolerant.pointer(&pointer)
    }

    fn check_inline(&self, schema: &Value, mode: Mode, instance: &Value) -> Result<(), Violations> {
        let key = serde_json::to_string(schema).unwrap_or_default();
        let validator = self.validator(key, mode, || schema.clone());
        report(self.name, &validator, instance)
    }

    fn check_pointer(&self, pointer: &str, mode: Mode, instance: &Value) -> Result<(), Violations> {
        if self.resolve(pointer).is_none() {
            return Err(Violations(vec![format!("{}: no schema at {pointer}", self.name)]));
        }
        let validator = self.validator(pointer.to_string(), mode, || serde_json::json!({ "$ref": pointer }));
        report(self.name, &validator, instance)
    }

    /// Builds (once) a validator whose root carries the whole document, so `#/components/…` refs resolve.
    fn validator(&self, key: String, mode: Mode, schema: impl FnOnce() -> Value) -> Arc<Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(&(key.clone(), mode)) {
            return v.clone();
        }
        let doc = match mode {
            Mode::Strict => &self.strict,
            Mode::Tolerant => &self.tolerant,
        };
        let mut root = match schema() {
            Value::Object(m) => m,
            other => Map::from_iter([("allOf".to_string(), Value::Array(vec![other]))]),
        };
        let mut schema_root = root.clone();
        if mode == Mode::Strict {
            let mut v = Value::Object(std::mem::take(&mut root));
            close_objects(&mut v);
            if let Value::Object(m) = v {
                schema_root = m;
            }
        }
        let wrapped = serde_json::json!({
            "allOf": [Value::Object(schema_root)],
            "components": doc.get("components").cloned().unwrap_or(Value::Null),
            "paths": doc.get("paths").cloned().unwrap_or(Value::Null),
        });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .build(&wrapped)
            .unwrap_or_else(|e| panic!("{}: schema {key} does not compile: {e}", self.name));
        let validator = Arc::new(validator);
        cache.insert((key, mode), validator.clone());
        validator
    }
}

fn report(name: &str, validator: &Validator, instance: &Value) -> Result<(), Violations> {
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{name}: {}: {e}", e.instance_path())).collect();
    if errors.is_empty() { Ok(()) } else { Err(Violations(errors)) }
}

/// JSON-pointer escaping of a path template for use in a URI fragment
/// (`/Items/{ItemID}` → `~1Items~1%7BItemID%7D`; braces are not allowed unencoded in a URI).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1").replace('{', "%7B").replace('}', "%7D")
}

/// Matches `/Items/{ItemID}` against `/Items/abc`; returns how many literal segments matched.
fn match_template(template: &str, path: &str) -> Option<usize> {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut literals = 0;
    for (ts, ps) in t.iter().zip(&p) {
        if ts.starts_with('{') && ts.ends_with('}') {
            if ps.is_empty() {
                return None;
            }
        } else if ts.eq_ignore_ascii_case(ps) {
            literals += usize::from(!ts.is_empty());
        } else {
            return None;
        }
    }
    Some(literals)
}

/// Turns OpenAPI 3.0 schema dialect into draft-4 JSON Schema: `nullable: true` widens the type, and
/// references to other files (Zoho's point at GitHub) become "anything", since tests run offline.
fn normalise(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(options)) = map.get_mut("enum") {
                    options.push(Value::Null);
                }
            }
            if let Some(Value::String(r)) = map.get("$ref")
                && !r.starts_with('#')
            {
                map.clear();
                return;
            }
            map.values_mut().for_each(normalise);
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// Zoho's `oneOf` alternatives (`Response_Wrapper`, `File_Body_Wrapper`, `API_Exception`, …) declare
/// properties but require none, so any object matches several of them and `oneOf` ("exactly one") could never
/// pass. Each alternative that requires nothing is made to apply only to bodies carrying at least one of its
/// declared properties.
fn discriminate_one_of(doc: &mut Value) {
    fn properties_of(schema: &Value, doc: &Value) -> Option<Vec<String>> {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => doc.pointer(reference.strip_prefix('#')?)?,
            None => schema,
        };
        if schema.get("required").is_some() {
            return None;
        }
        let names: Vec<String> = schema.get("properties")?.as_object()?.keys().cloned().collect();
        (!names.is_empty()).then_some(names)
    }
    fn walk(value: &mut Value, doc: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(alternatives)) = map.get_mut("oneOf") {
                    for alternative in alternatives.iter_mut() {
                        if let Some(names) = properties_of(alternative, doc) {
                            let any: Vec<Value> = names.iter().map(|n| serde_json::json!({"required": [n]})).collect();
                            let original = std::mem::take(alternative);
                            *alternative = serde_json::json!({"allOf": [original], "anyOf": any});
                        }
                    }
                }
                map.values_mut().for_each(|v| walk(v, doc));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, doc)),
            _ => {}
        }
    }
    let lookup = doc.clone();
    walk(doc, &lookup);
}

/// Error envelopes' `code` and `message` enums list only some of what the service sends (Zoho README gap 7:
/// "a loose union"); responses are checked with those two left open.
fn open_error_enums(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let status_enum = map.get("properties").and_then(|p| p.get("status")).and_then(|s| s.get("enum"));
            if status_enum == Some(&serde_json::json!(["error"]))
                && let Some(Value::Object(properties)) = map.get_mut("properties")
            {
                for key in ["code", "message"] {
                    if let Some(Value::Object(property)) = properties.get_mut(key) {
                        property.remove("enum");
                    }
                }
            }
            map.values_mut().for_each(open_error_enums);
        }
        Value::Array(items) => items.iter_mut().for_each(open_error_enums),
        _ => {}
    }
}

/// The problem details Xero's gateway answers with where the Accounting spec models nothing: 401 (an expired
/// token, or `AuthorizationUnsuccessful` for a scope the grant lacks), 403, 404, 429, 5xx (the internal
/// error `{"Title":"An error occurred",…}` and the gateway's 502/503/504) and a misused Idempotency-Key.
/// Shapes from captures: xero-node#435, Xero-Java#246, XeroAPI/xero-ruby-oauth2-app#82
/// (`../shared/reference/fidelity-audit.md` §1, X1, X2).
static XERO_PROBLEM: LazyLock<Validator> = LazyLock::new(|| {
    let schema = serde_json::json!({
        "type": "object",
        "required": ["Type", "Title", "Status", "Detail"],
        "properties": {
            "Type": {"type": "null"},
            "Title": {"type": "string", "minLength": 1},
            "Status": {"type": "integer", "minimum": 400, "maximum": 599},
            "Detail": {"type": "string"},
            "Instance": {"type": ["string", "null"]},
            "Extensions": {"type": "object"}
        }
    });
    jsonschema::options().with_draft(Draft::Draft4).build(&schema).expect("the problem schema compiles")
});

/// Checks one of Xero's problem-details answers (the shape above), and `Status` equal to
/// the HTTP status it came with.
pub fn check_xero_problem(status: u16, body: &Value) -> Result<(), Violations> {
    report("xero_problem", &XERO_PROBLEM, body)?;
    if body["Status"] != status {
        return Err(Violations(vec![format!("xero_problem: Status {} under HTTP {status}", body["Status"])]));
    }
    Ok(())
}

/// Marks every object schema that declares `properties` as closed.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object) && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            // Inside `properties`, keys are property names, not keywords: recurse into each schema only.
            for (key, child) in map.iter_mut() {
                if key == "properties" {
                    if let Value::Object(props) = child {
                        props.values_mut().for_each(close_objects);
                    }
                } else if key != "example" && key != "examples" {
                    close_objects(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_matching_prefers_literals() {
        assert_eq!(match_template("/Items/{ItemID}", "/Items/abc"), Some(1));
        assert_eq!(match_template("/Items", "/Items/abc"), None);
        assert_eq!(match_template("/crm/v8/{module_api_name}/{id}", "/crm/v8/Products/1"), Some(2));
    }

    #[test]
    fn xero_item_rules_come_from_the_spec() {
        let xero = Contract::xero_accounting();
        let ok = json!({"Code": "ABC", "Name": "Widget", "SalesDetails": {"UnitPrice": 1.5, "AccountCode": "200"}});
        xero.check_schema("Item", Mode::Strict, &ok).expect("a plain item is valid");
        let long = json!({"Code": "X".repeat(31)});
        let err = xero.check_schema("Item", Mode::Strict, &long).expect_err("31-char code");
        assert!(err.to_string().contains("Code"), "{err}");
        let unknown = json!({"Code": "A", "Colour": "red"});
        assert!(xero.check_schema("Item", Mode::Strict, &unknown).is_err());
        assert!(xero.check_schema("Item", Mode::Tolerant, &unknown).is_ok());
    }

    #[test]
    fn xero_requests_and_responses_by_operation() {
        let xero = Contract::xero_accounting();
        xero.check_request("POST", "/Items", &json!({"Items": [{"Code": "A"}]})).expect("valid request");
        assert!(xero.check_request("POST", "/Items", &json!({"items": [{"Code": "A"}]})).is_err());
        let example =
            xero.document()["paths"]["/Items"]["post"]["responses"]["200"]["content"]["application/json"]["example"]
                .clone();
        xero.check_response("POST", "/Items", 200, &example).expect("the spec's own example is valid");
        let bad = json!({"Items": [{"Code": 12}]});
        assert!(xero.check_response("POST", "/Items", 200, &bad).is_err());
        assert!(xero.check_response("POST", "/Items", 418, &bad).is_err());
    }

    #[test]
    fn zoho_one_of_alternatives_are_told_apart_by_their_properties() {
        let zoho = Contract::zoho_record();
        let path = "/crm/v8/Products/1";
        zoho.check_response("GET", path, 200, &json!({"data": [{"id": "1"}]})).expect("a record body");
        let error = json!({"code": "ALREADY_MODIFIED", "details": {}, "message": "not in the enum", "status": "error"});
        zoho.check_response("PUT", path, 200, &error).expect("error envelopes keep open codes");
        assert!(zoho.check_schema("API_Exception", Mode::Strict, &error).is_err(), "requests keep the enums");
        assert!(zoho.check_response("GET", path, 200, &json!({"data": {"id": "1"}})).is_err());
    }

    #[test]
    fn xero_problem_answers_have_one_shape() {
        let scope = json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthorizationUnsuccessful",
                           "Instance": "8e1b2c1e-0000-4000-8000-000000000000", "Extensions": {}});
        check_xero_problem(401, &scope).expect("a missing scope (X1)");
        let internal = json!({"Title": "An error occurred", "Detail": "An error occurred in Xero.", "Status": 500,
                              "Type": null});
        check_xero_problem(500, &internal).expect("an internal error (X2)");
        assert!(check_xero_problem(403, &scope).is_err(), "Status and HTTP status agree");
        assert!(check_xero_problem(401, &json!({"Title": "Unauthorized", "Status": 401})).is_err());
        assert!(check_xero_problem(401, &json!({"Type": "x", "Title": "T", "Status": 401, "Detail": "d"})).is_err());
    }

    #[test]
    fn zoho_record_contract_loads() {
        let zoho = Contract::zoho_record();
        zoho.check_schema("Tax", Mode::Tolerant, &json!({"id": "1", "value": "GST"})).expect("tax");
        assert!(zoho.check_schema("Tax", Mode::Tolerant, &json!({"id": 1})).is_err());
    }
}
