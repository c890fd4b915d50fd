//! What the button's sync and the bulk runs share, so both decide alike: which Xero item a product maps to
//! (the stored link, then the ItemID the CRM holds, then the Code ignoring case, refusing a code another
//! product's item has), whether its content changed, how Xero's answer for it reads, and what is written
//! back to the CRM record.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use shared::rules::same_name;
use shared::wire::SyncOutcome;
use shared::{CrmProduct, FieldMap, Issue, IssueCode, fields};

use super::SyncError;
use super::xero_edits::state_of;
use super::xero_messages::issues_from_xero;
use crate::store::{ItemLink, ItemState};
use crate::xero::{ItemResult, XeroItem};

/// The item a product already has in Xero, and how we know.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Existing {
    pub(crate) item_id: String,
    pub(crate) code: String,
    /// The content hash of the last successful sync, when we have a link.
    pub(crate) last_hash: Option<String>,
    /// When we last synced it, when we have a link.
    pub(crate) synced_at: Option<DateTime<Utc>>,
    /// What Xero held of it right after our last write, when we know.
    pub(crate) state: Option<ItemState>,
    /// The item as Xero holds it now, when it was read (to see edits made in Xero).
    pub(crate) current: Option<XeroItem>,
}

impl Existing {
    fn linked(link: ItemLink, state: Option<ItemState>, current: Option<XeroItem>) -> Self {
        Self {
            item_id: link.item_id,
            code: link.code,
            last_hash: Some(link.payload_hash),
            synced_at: Some(link.synced_at),
            state,
            current,
        }
    }

    fn found(item: XeroItem) -> Self {
        Self { item_id: item.item_id, code: item.code, last_hash: None, synced_at: None, state: None, current: None }
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

/// How the product's item was found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Match {
    /// No item yet: a sync creates one.
    New,
    Existing(Box<Existing>),
    /// Xero's item with the product's code belongs to another CRM product.
    Taken(XeroItem),
}

/// Where [`existing_item`] looks: the stored links and Xero's items. The button asks the database and
/// Xero as it goes; a bulk run answers from the lists it read once.
pub(crate) trait Catalogue {
    /// The product's link, with what Xero held of the item after our last write when that is known.
    async fn link(&self, product_id: &str) -> Result<Option<(ItemLink, Option<ItemState>)>, SyncError>;
    /// The linked item as Xero holds it now, to see edits made there since our last write.
    async fn current(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError>;
    async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError>;
    /// The item whose code equals `code` ignoring case.
    async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError>;
    /// The CRM product an item is linked to.
    async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError>;
}

/// Finds the product's item: the stored link, else the ItemID the CRM holds (if Xero still has it), else an
/// item with the same Code ignoring case (the first link of a product Xero already had). A linked item
/// whose state after our last write we know is read again, to see edits made in Xero. A code whose item
/// another CRM product owns is [`Match::Taken`].
pub(crate) async fn existing_item(
    product_id: &str,
    product: &CrmProduct,
    catalogue: &impl Catalogue,
) -> Result<Match, SyncError> {
    if let Some((link, state)) = catalogue.link(product_id).await? {
        let current = match &state {
            Some(_) => catalogue.current(&link.item_id).await?,
            None => None,
        };
        return Ok(Match::Existing(Box::new(Existing::linked(link, state, current))));
    }
    if let Some(item_id) = product.xero_item_id.text()
        && let Some(item) = catalogue.item_by_id(item_id).await?
    {
        return Ok(Match::Existing(Box::new(Existing::found(item))));
    }
    by_code(product_id, product, catalogue).await
}

/// An item of Xero's with the product's Code, ignoring case, unless another CRM product is linked to it
/// ([`Match::Taken`]): the last step of [`existing_item`], and the whole of it once a link proved stale.
pub(crate) async fn by_code(
    product_id: &str,
    product: &CrmProduct,
    catalogue: &impl Catalogue,
) -> Result<Match, SyncError> {
    let Some(code) = product.code.text() else { return Ok(Match::New) };
    let Some(item) = catalogue.item_by_code(code).await? else { return Ok(Match::New) };
    // Two CRM products whose codes differ only in case would silently share one Xero item.
    if let Some(owner) = catalogue.owner(&item.item_id).await?
        && owner != product_id
    {
        return Ok(Match::Taken(item));
    }
    Ok(Match::Existing(Box::new(Existing::found(item))))
}

/// An item as Xero shows it, to name the product that holds a code: "Name, CODE", or the code alone.
pub(crate) fn item_label(name: Option<&str>, code: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name}, {code}"),
        None => code.to_owned(),
    }
}

/// The issue of a code another CRM product's item holds (in Xero, or claimed earlier in the same bulk run):
/// that item named by [`item_label`], with a free code to use instead when one is known.
pub(crate) fn code_in_use(owner: &str, free: Option<&str>) -> Issue {
    let instead = free.map_or_else(String::new, |code| format!(", e.g. “{code}”"));
    let message = format!(
        "This code is already used by {owner} in Xero (another CRM product's item); give this product its own \
         code{instead}."
    );
    // The preview carries the free code in its plan (`suggested_code`), which the widget offers.
    Issue::error(fields::PRODUCT_CODE, IssueCode::CodeInUse, message)
}

/// How Xero judged one submitted item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Element {
    /// Saved: its ItemID, and what Xero answered it holds now (when the answer said).
    Accepted { item_id: String, state: Option<ItemState> },
    /// Xero's messages, on the fields they concern. `chart_changed` when they blame the account or tax
    /// rate: the cached chart and rates are stale, so fetch them again.
    Rejected { issues: Vec<Issue>, chart_changed: bool },
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
        return Element::Accepted { item_id: item_id.clone(), state: result.item.as_ref().map(state_of) };
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

/// The CRM's status field holds 255 characters.
pub(crate) fn truncated(status: String) -> String {
    if status.chars().count() > 255 { status.chars().take(254).collect::<String>() + "…" } else { status }
}

/// The status a successful sync writes back: the outcome, and which values were the organisation's
/// defaults ([`super::resolution_note`]).
pub(crate) fn success_status(outcome: SyncOutcome, note: Option<&str>) -> String {
    match note {
        Some(note) => format!("{} ({note})", outcome.sentence()),
        None => outcome.sentence().to_owned(),
    }
}

/// What a successful sync writes back to the CRM record: the ItemID, the time and the status.
pub(crate) fn success_values(fields: &FieldMap, item_id: &str, synced_at: &str, status: &str) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert(fields.item_id.clone(), json!(item_id));
    values.insert(fields.last_synced.clone(), json!(synced_at));
    values.insert(fields.sync_status.clone(), json!(truncated(status.to_owned())));
    values
}

/// A note of the log as a sentence: capitalised, with its full stop.
pub(crate) fn note_sentence(note: &str) -> String {
    let mut chars = note.chars();
    let capitalised: String =
        chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect());
    format!("{capitalised}.")
}

/// The status of a sync that kept the changes made in Xero to `labels` and wrote nothing there.
pub(crate) fn kept_status(labels: &[&str]) -> String {
    truncated(format!(
        "{} (changed in Xero: {}); nothing written to Xero",
        SyncOutcome::Kept.sentence(),
        labels.join(", ")
    ))
}

/// The sync status a failed or refused sync writes back: why, within Zoho's 255 characters.
pub(crate) fn failure_status(messages: &[String]) -> String {
    truncated(format!("Sync failed: {}", messages.join("; ")))
}

/// The status alone (a failure, or a kept outcome), as a write-back's values.
pub(crate) fn status_values(fields: &FieldMap, status: &str) -> Map<String, Value> {
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
        links: HashMap<String, (ItemLink, Option<ItemState>)>,
        items: Vec<XeroItem>,
    }

    impl Catalogue for Memory {
        async fn link(&self, product_id: &str) -> Result<Option<(ItemLink, Option<ItemState>)>, SyncError> {
            Ok(self.links.get(product_id).cloned())
        }
        async fn current(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
            self.item_by_id(item_id).await
        }
        async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
            Ok(self.items.iter().find(|i| i.item_id == item_id).cloned())
        }
        async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError> {
            Ok(self.items.iter().find(|i| same_name(&i.code, code)).cloned())
        }
        async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError> {
            Ok(self.links.values().find(|(l, _)| l.item_id == item_id).map(|(l, _)| l.product_id.clone()))
        }
    }

    fn item(id: &str, code: &str) -> XeroItem {
        serde_json::from_value(json!({"ItemID": id, "Code": code, "Name": format!("Item {code}")})).expect("item")
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

    fn existing(found: Match) -> Existing {
        match found {
            Match::Existing(existing) => *existing,
            other => panic!("expected an item, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_link_wins_then_the_crm_item_id_then_the_code_ignoring_case() {
        let mut catalogue = Memory { items: vec![item("i1", "ABC"), item("i2", "XYZ")], ..Memory::default() };
        let found = existing(existing_item("p1", &product("abc", None), &catalogue).await.expect("match"));
        assert_eq!(found.item_id, "i1", "by code, ignoring case");
        let found = existing(existing_item("p1", &product("abc", Some("i2")), &catalogue).await.expect("match"));
        assert_eq!(found.item_id, "i2", "the CRM's ItemID before the code");
        catalogue.links.insert("p1".into(), (link("p1", "i9", "OLD"), None));
        let found = existing(existing_item("p1", &product("abc", Some("i2")), &catalogue).await.expect("match"));
        assert_eq!((found.item_id.as_str(), found.unchanged("h"), found.renames_code("abc")), ("i9", true, true));
        assert_eq!(found.current, None, "without a known state the item is not read again");
        let none = existing_item("p1", &product("NEW", None), &Memory::default()).await.expect("none");
        assert_eq!(none, Match::New);
    }

    #[tokio::test]
    async fn a_linked_item_with_a_known_state_is_read_again() {
        let mut catalogue = Memory { items: vec![item("i1", "ABC")], ..Memory::default() };
        let state = ItemState { code: "ABC".into(), ..ItemState::default() };
        catalogue.links.insert("p1".into(), (link("p1", "i1", "ABC"), Some(state.clone())));
        let found = existing(existing_item("p1", &product("ABC", None), &catalogue).await.expect("match"));
        assert_eq!((found.state, found.current.map(|i| i.item_id)), (Some(state), Some("i1".into())));
    }

    #[tokio::test]
    async fn a_code_another_product_owns_is_taken() {
        let mut catalogue = Memory { items: vec![item("i1", "ABC")], ..Memory::default() };
        catalogue.links.insert("p2".into(), (link("p2", "i1", "ABC"), None));
        match existing_item("p1", &product("abc", None), &catalogue).await.expect("match") {
            Match::Taken(item) => {
                let issue = code_in_use(&item_label(item.name.as_deref(), &item.code), Some("ABC-2"));
                assert_eq!(issue.code, IssueCode::CodeInUse);
                assert!(
                    issue.message.contains("Item ABC, ABC") && issue.message.contains("“ABC-2”"),
                    "{}",
                    issue.message
                );
            }
            other => panic!("expected the code taken, got {other:?}"),
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
