//! JSON objects built without `serde_json::json!`, whose `to_value(..).unwrap()` on every value brings
//! serde_json's error `Debug` and core's string escaping into the bundle (1.7 KB gzip).

use serde_json::{Map, Value};

/// `{"name": value, …}`. Not generic over the number of fields, so the bundle carries it once; built by
/// inserting rather than collecting, since collecting into a map sorts first (another sort in the bundle).
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut object = Map::new();
    for (name, value) in fields {
        object.insert(name.to_owned(), value);
    }
    Value::Object(object)
}
