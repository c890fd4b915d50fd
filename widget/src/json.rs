//! JSON objects built without `serde_json::json!`, whose `to_value(..).unwrap()` on every value brings
//! serde_json's error `Debug` and core's string escaping into the bundle (1.7 KB gzip).

use serde_json::Value;

/// `{"name": value, …}`. Not generic over the number of fields, so the bundle carries it once.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(name, value)| (name.to_owned(), value)).collect())
}
