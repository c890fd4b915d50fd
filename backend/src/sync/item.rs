//! What the button's sync and the bulk runs share, so both decide alike: which Xero item a product maps to
//! (the stored link, then the ItemID the CRM holds, then the Code ignoring case, refusing a code another
//! product's item has), whether its content changed, how Xero's answer for it reads, and what is written
//! back to the CRM record.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use shared::rules::same_name;
use shared::wire::SyncOutcome;
use shared::{Account, CrmProduct, FieldMap, Issue, IssueCode, Report, TaxRate, XeroContext, validate};

use super::SyncError;
use super::xero_messages::issues_from_xero;
use crate::store::ItemLink;
use crate::xero::{ItemResult, XeroItem};

/// The shared rules on a product, against the organisation's accounts and tax rates: what every sync
/// checks before it writes.
pub(crate) fn check(product: &CrmProduct, fields: &FieldMap, accounts: &[Account], tax_rates: &[TaxRate]) -> Report {
    validate(product, fields, XeroContext { accounts: Some(accounts), tax_rates: Some(tax_rates) })
}

/// The item a product already has in Xero, and how we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Existing {
    pub(crate) item_id: String,
    pub(crate) code: String,
    /// The content hash of the last successful sync, when we have a link.
    pub(crate) last_hash: Option<String>,
}

impl Existing {
    pub(crate) fn linked(link: &ItemLink) -> Self {
        Self { item_id: link.item_id.clone(), code: link.code.clone(), last_hash: Some(link.payload_hash.clone()) }
    }

    pub(crate) fn found(item: &XeroItem) -> Self {
        Self { item_id: item.item_id.clone(), code: item.code.clone(), last_hash: None }
    }

    /// The item holds exactly what the last sync sent, and that is what would be sent now.
    pub(crate) fn unchanged(&self, content_hash: &str) -> bool {
        self.last_hash.as_deref() == Some(content_hash)
    }

    /// The product's code differs from the item's: only the item's own endpoint changes a Code.
    pub(crate) fn renames_code(&self, code: &str) -> bool {
        !same_name(&self.code, code)
    }
}

/// Where [`existing_item`] looks: the stored links and Xero's items. The button asks the database and
/// Xero as it goes; a bulk run answers from the lists it read once.
pub(crate) trait Catalogue {
    async fn link(&self, product_id: &str) -> Result<Option<ItemLink>, SyncError>;
    async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError>;
    /// The item whose code equals `code` ignoring case.
    async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError>;
    /// The CRM product an item is linked to.
    async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError>;
}

/// Finds the product's item: the stored link, else the ItemID the CRM holds (if Xero still has it), else an
/// item with the same Code ignoring case (the first link of a product Xero already had). A code whose item
/// another CRM product owns is refused ([`SyncError::Refused`] with [`code_in_use`]).
pub(crate) async fn existing_item(
    product_id: &str,
    product: &CrmProduct,
    catalogue: &impl Catalogue,
) -> Result<Option<Existing>, SyncError> {
    if let Some(link) = catalogue.link(product_id).await? {
        return Ok(Some(Existing::linked(&link)));
    }
    if let Some(item_id) = product.xero_item_id.text()
        && let Some(item) = catalogue.item_by_id(item_id).await?
    {
        return Ok(Some(Existing::found(&item)));
    }
    let Some(code) = product.code.text() else { return Ok(None) };
    let Some(item) = catalogue.item_by_code(code).await? else { return Ok(None) };
    // Two CRM products whose codes differ only in case would silently share one Xero item.
    if let Some(owner) = catalogue.owner(&item.item_id).await?
        && owner != product_id
    {
        return Err(SyncError::Refused(vec![code_in_use(&item.code, &owner)]));
    }
    Ok(Some(Existing::found(&item)))
}

/// The refusal of a code another CRM product's item holds (in Xero, or claimed earlier in the same run).
pub(crate) fn code_in_use(code: &str, owner: &str) -> Issue {
    Issue::error(
        shared::fields::PRODUCT_CODE,
        IssueCode::CodeInUse,
        format!(
            "Xero already has an item with the code “{code}”, synced from another CRM product ({owner}); give this product its own code."
        ),
    )
}

/// How Xero judged one submitted item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Element {
    Accepted(String),
    /// Xero's messages, on the fields they concern. `chart_changed` when they blame the account or tax
    /// rate: the cached chart and rates are stale, so fetch them again.
    Rejected {
        issues: Vec<Issue>,
        chart_changed: bool,
    },
    /// The answer had no element for the item: whether Xero saved it is unknown (sending it again is safe,
    /// since Xero matches the code).
    Missing,
}

/// Reads the result of one item; `None` when the answer had none for it.
pub(crate) fn element(result: Option<&ItemResult>, fields: &FieldMap) -> Element {
    let Some(result) = result else { return Element::Missing };
    if result.is_ok()
        && let Some(item_id) = &result.item_id
    {
        return Element::Accepted(item_id.clone());
    }
    if result.messages.iter().any(|m| m == crate::xero::NO_ELEMENT) {
        return Element::Missing;
    }
    let issues = issues_from_xero(&result.messages, fields);
    let chart_changed = issues.iter().any(|i| i.field == fields.gl_account || i.field == fields.tax_rate);
    Element::Rejected { issues, chart_changed }
}

/// Zoho takes DateTime fields only as `yyyy-MM-ddTHH:mm:ss±HH:mm`: `+00:00`, never `Z`.
pub(crate) fn zoho_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// What a successful sync writes back to the CRM record: the ItemID, the time and the outcome.
pub(crate) fn success_values(
    fields: &FieldMap,
    item_id: &str,
    synced_at: &str,
    outcome: SyncOutcome,
) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert(fields.item_id.clone(), json!(item_id));
    values.insert(fields.last_synced.clone(), json!(synced_at));
    values.insert(fields.sync_status.clone(), json!(outcome.sentence()));
    values
}

/// The sync status a failed or refused sync writes back: why, within Zoho's 255 characters.
pub(crate) fn failure_status(messages: &[String]) -> String {
    let status = format!("Sync failed: {}", messages.join("; "));
    if status.chars().count() > 255 { status.chars().take(254).collect::<String>() + "…" } else { status }
}

pub(crate) fn failure_values(fields: &FieldMap, status: &str) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert(fields.sync_status.clone(), json!(status));
    values
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A catalogue in memory: links by product, items, owners by item.
    #[derive(Default)]
    struct Memory {
        links: HashMap<String, ItemLink>,
        items: Vec<XeroItem>,
    }

    impl Catalogue for Memory {
        async fn link(&self, product_id: &str) -> Result<Option<ItemLink>, SyncError> {
            Ok(self.links.get(product_id).cloned())
        }
        async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
            Ok(self.items.iter().find(|i| i.item_id == item_id).cloned())
        }
        async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError> {
            Ok(self.items.iter().find(|i| same_name(&i.code, code)).cloned())
        }
        async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError> {
            Ok(self.links.values().find(|l| l.item_id == item_id).map(|l| l.product_id.clone()))
        }
    }

    fn item(id: &str, code: &str) -> XeroItem {
        serde_json::from_value(json!({"ItemID": id, "Code": code})).expect("item")
    }

    fn product(code: &str, crm_item_id: Option<&str>) -> CrmProduct {
        let fields = FieldMap::default();
        let mut record = json!({"id": "p1", "Product_Code": code});
        if let Some(id) = crm_item_id {
            record[&fields.item_id] = json!(id);
        }
        CrmProduct::from_json(&record, &fields).expect("record")
    }

    fn link(product_id: &str, item_id: &str, code: &str) -> ItemLink {
        ItemLink {
            product_id: product_id.into(),
            tenant_id: "t".into(),
            item_id: item_id.into(),
            code: code.into(),
            payload_hash: "h".into(),
            synced_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn the_link_wins_then_the_crm_item_id_then_the_code_ignoring_case() {
        let mut catalogue = Memory { items: vec![item("i1", "ABC"), item("i2", "XYZ")], ..Memory::default() };
        let found = existing_item("p1", &product("abc", None), &catalogue).await.expect("match");
        assert_eq!(found.map(|e| e.item_id), Some("i1".into()), "by code, ignoring case");
        let found = existing_item("p1", &product("abc", Some("i2")), &catalogue).await.expect("match");
        assert_eq!(found.map(|e| e.item_id), Some("i2".into()), "the CRM's ItemID before the code");
        catalogue.links.insert("p1".into(), link("p1", "i9", "OLD"));
        let found = existing_item("p1", &product("abc", Some("i2")), &catalogue).await.expect("match");
        let found = found.expect("linked");
        assert_eq!((found.item_id.as_str(), found.unchanged("h"), found.renames_code("abc")), ("i9", true, true));
        assert!(existing_item("p1", &product("NEW", None), &Memory::default()).await.expect("none").is_none());
    }

    #[tokio::test]
    async fn a_code_another_product_owns_is_refused() {
        let mut catalogue = Memory { items: vec![item("i1", "ABC")], ..Memory::default() };
        catalogue.links.insert("p2".into(), link("p2", "i1", "ABC"));
        match existing_item("p1", &product("abc", None), &catalogue).await {
            Err(SyncError::Refused(issues)) => {
                assert_eq!(issues[0].code, IssueCode::CodeInUse);
                assert!(issues[0].message.contains("p2"), "{}", issues[0].message);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_long_failure_status_is_cut_to_255_characters() {
        let status = failure_status(&["x".repeat(400)]);
        assert_eq!(status.chars().count(), 255);
        assert!(status.ends_with('…'));
        assert_eq!(failure_status(&["a".into(), "b".into()]), "Sync failed: a; b");
    }
}
