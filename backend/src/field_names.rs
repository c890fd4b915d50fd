//! The CRM field API names in force: the `XERO_SYNC_FIELD_*` variables as the defaults, overridden by the
//! admin's [`CrmFieldNames`] setting. One handle, shared by the engine, the runs, the readiness check, the
//! widget's options and the dashboard: each reads the names once per sync, run or request, so a change
//! applies from the next one without a restart, and a sync in progress keeps the names it started with.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use shared::FieldMap;

use crate::config::{is_api_name, shared_field};
use crate::defaults::{ChangeError, FormError};
use crate::store::{CrmFieldNames, Store, StoreError};
use crate::zoho::{CrmField, ZohoClient, ZohoError};

/// Each custom field's role, in [`FieldMap::custom_fields`] order: its key (in the stored setting and the
/// form, `field_{key}`) and the Zoho `data_type`s it may have.
const ROLES: [(&str, &[&str]); 6] = [
    ("add_to_xero", &["boolean"]),
    ("gl_account", &["text", "picklist"]),
    ("tax_rate", &["text", "picklist"]),
    ("item_id", &["text"]),
    ("last_synced", &["datetime"]),
    ("sync_status", &["text", "textarea"]),
];

/// The role keys, in [`FieldMap::custom_fields`] order.
pub(crate) fn role_keys() -> [&'static str; 6] {
    ROLES.map(|(key, _)| key)
}

fn slot(map: &mut FieldMap, i: usize) -> &mut String {
    match i {
        0 => &mut map.add_to_xero,
        1 => &mut map.gl_account,
        2 => &mut map.tax_rate,
        3 => &mut map.item_id,
        4 => &mut map.last_synced,
        _ => &mut map.sync_status,
    }
}

/// The defaults with the admin's names (by role key) put over them.
pub(crate) fn merged(defaults: &FieldMap, overrides: &BTreeMap<String, String>) -> FieldMap {
    let mut map = defaults.clone();
    for (i, key) in role_keys().into_iter().enumerate() {
        if let Some(name) = overrides.get(key) {
            name.clone_into(slot(&mut map, i));
        }
    }
    map
}

/// The names in force; cheap to clone.
#[derive(Clone)]
pub(crate) struct FieldNames {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    zoho: ZohoClient,
    defaults: FieldMap,
    current: RwLock<Arc<FieldMap>>,
}

impl FieldNames {
    /// The defaults with the stored setting over them. A stored set that no longer fits the defaults (two
    /// roles on one field after a variable changed) is ignored, with a warning, until the admin fixes it.
    pub(crate) async fn load(store: Store, zoho: ZohoClient, defaults: FieldMap) -> Result<Self, StoreError> {
        let names =
            Self { inner: Arc::new(Inner { store, zoho, current: RwLock::new(Arc::new(defaults.clone())), defaults }) };
        names.refresh().await?;
        Ok(names)
    }

    /// The names for one sync, run or request.
    pub(crate) fn current(&self) -> Arc<FieldMap> {
        self.inner.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The `XERO_SYNC_FIELD_*` variables' names: what an empty field on the settings page means.
    pub(crate) fn defaults(&self) -> &FieldMap {
        &self.inner.defaults
    }

    /// The admin's names, by role key.
    pub(crate) async fn overrides(&self) -> Result<BTreeMap<String, String>, StoreError> {
        self.inner.store.org_setting::<CrmFieldNames>().await
    }

    async fn refresh(&self) -> Result<(), StoreError> {
        let map = merged(&self.inner.defaults, &self.overrides().await?);
        let map = if shared_field(&map).is_some() {
            tracing::warn!("the CRM field names set in the admin's settings share a field; the defaults are used");
            self.inner.defaults.clone()
        } else {
            map
        };
        *self.inner.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
        Ok(())
    }

    /// Checks the typed names (by role key; empty: the default) against the CRM's Products fields, then
    /// stores and audits them and puts them in force. Returns whether anything changed.
    pub(crate) async fn change(&self, typed: &BTreeMap<String, String>, by: &str) -> Result<bool, ChangeError> {
        let overrides: BTreeMap<String, String> = typed
            .iter()
            .map(|(key, name)| (key.clone(), name.trim().to_owned()))
            .filter(|(_, name)| !name.is_empty())
            .collect();
        let map = merged(&self.inner.defaults, &overrides);
        let crm = match self.inner.zoho.product_fields().await {
            Ok(fields) => fields,
            Err(error) => return Err(ChangeError::Unavailable(unavailable(&error))),
        };
        let errors = check(&map, &crm);
        if !errors.is_empty() {
            return Err(ChangeError::Invalid(errors));
        }
        // Only what differs from the defaults is the admin's: a variable changed later still applies.
        let own: BTreeMap<String, String> = role_keys()
            .into_iter()
            .zip(map.custom_fields().into_iter().zip(self.inner.defaults.custom_fields()))
            .filter(|(_, ((_, name), (_, default)))| name != default)
            .map(|(key, ((_, name), _))| (key.to_owned(), name.to_owned()))
            .collect();
        let changed = self.inner.store.set_org_setting::<CrmFieldNames>(&own, by).await?;
        self.refresh().await?;
        Ok(changed)
    }
}

fn unavailable(error: &ZohoError) -> String {
    let why = match error {
        ZohoError::Unexpected { code, .. } if code == "OAUTH_SCOPE_MISMATCH" => {
            "the Zoho grant lacks the scope ZohoCRM.settings.fields.READ".to_owned()
        }
        other => crate::describe(other),
    };
    format!("Nothing was saved: the CRM's fields could not be read to check the names ({why}).")
}

/// Each name's problem, on its field (`field_{key}`): not an API name, not a field of the CRM's Products
/// module, of a type the role cannot use, or already another role's field.
pub(crate) fn check(map: &FieldMap, crm: &[CrmField]) -> Vec<FormError> {
    let custom = map.custom_fields();
    let shared = shared_field(map);
    let mut errors = Vec::new();
    for (i, ((key, types), (label, name))) in ROLES.into_iter().zip(custom).enumerate() {
        let message = if !is_api_name(name) {
            Some(format!("“{name}” is not a Zoho API name (letters, digits and underscores, starting with a letter)."))
        } else if let Some((_, earlier)) = shared.filter(|(at, _)| *at == i) {
            Some(format!("“{name}” is already the field of {}: each role needs a field of its own.", custom[earlier].0))
        } else {
            match crm.iter().find(|f| f.api_name == name) {
                None => Some(format!("The CRM's Products module has no field with the API name “{name}”.")),
                Some(field) if !types.contains(&field.data_type.as_str()) => Some(format!(
                    "“{name}” is a {} field; {label} needs a {} field.",
                    field.data_type,
                    types.join(" or ")
                )),
                Some(_) => None,
            }
        };
        if let Some(message) = message {
            errors.push(FormError { field: format!("field_{key}"), message });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crm() -> Vec<CrmField> {
        let field = |api_name: &str, data_type: &str| CrmField {
            api_name: api_name.into(),
            data_type: data_type.into(),
            pick_list_values: Vec::new(),
        };
        let defaults = FieldMap::default();
        let mut fields: Vec<CrmField> =
            ROLES.iter().zip(defaults.custom_fields()).map(|((_, types), (_, name))| field(name, types[0])).collect();
        fields.extend([field("Product_Active", "boolean"), field("Xero_Item_Ref", "text")]);
        fields
    }

    fn with(key: &str, name: &str) -> FieldMap {
        merged(&FieldMap::default(), &BTreeMap::from([(key.to_owned(), name.to_owned())]))
    }

    #[test]
    fn a_name_is_checked_against_the_crms_fields_their_types_and_the_other_roles() {
        assert!(check(&FieldMap::default(), &crm()).is_empty());
        assert!(check(&with("item_id", "Xero_Item_Ref"), &crm()).is_empty());
        let cases = [
            ("item_id", "No_Such_Field", "The CRM's Products module has no field with the API name “No_Such_Field”."),
            ("item_id", "Product_Active", "“Product_Active” is a boolean field; Xero Item ID needs a text field."),
            ("item_id", "1st field", "“1st field” is not a Zoho API name"),
            ("sync_status", "Xero_Item_ID", "“Xero_Item_ID” is already the field of Xero Item ID"),
        ];
        for (key, name, message) in cases {
            let errors = check(&with(key, name), &crm());
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, format!("field_{key}"));
            assert!(errors[0].message.starts_with(message), "{}", errors[0].message);
        }
    }

    #[test]
    fn the_roles_follow_the_custom_fields_order() {
        for (i, key) in role_keys().into_iter().enumerate() {
            let map = with(key, "Renamed");
            let renamed: Vec<usize> =
                map.custom_fields().iter().enumerate().filter(|(_, (_, n))| *n == "Renamed").map(|(j, _)| j).collect();
            assert_eq!(renamed, [i], "{key}");
        }
    }
}
