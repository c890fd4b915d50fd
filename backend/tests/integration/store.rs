//! The store against a real SQLite file in a temporary directory.

use std::path::{Path, PathBuf};

use backend::crypto::{Cipher, MasterKey};
use backend::store::{
    ConnectionStatus, DefaultGlAccount, ItemLink, ItemState, LogCursor, LogFilter, PendingTenant, Store, StoreError,
    SyncOutcome, SyncTrigger, TaxMappings, XeroConnection, XeroTokens, ZohoConnection, hash_api_key,
};
use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::support::TempDir;

/// The database file, in a directory the store must create.
fn db(dir: &TempDir) -> PathBuf {
    dir.0.join("nested").join("xero-sync.db")
}

fn url(dir: &TempDir) -> String {
    format!("sqlite://{}?mode=rwc", db(dir).display())
}

fn cipher(byte: u8) -> Cipher {
    Cipher::new(&MasterKey::from_bytes([byte; 32]))
}

async fn open(dir: &TempDir) -> Store {
    Store::connect(&url(dir), cipher(1)).await.expect("connect")
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text)
}

fn tokens(access: &str, refresh: &str) -> XeroTokens {
    XeroTokens::new(secret(access), secret(refresh), Utc::now() + TimeDelta::minutes(30))
}

fn xero_connection(tenant: &str) -> XeroConnection {
    XeroConnection {
        tenant_id: tenant.into(),
        tenant_name: format!("Org {tenant}"),
        connection_id: format!("conn-{tenant}"),
        status: ConnectionStatus::Connected,
        status_reason: None,
        updated_at: Utc::now(),
    }
}

fn zoho_connection(refresh: &str) -> ZohoConnection {
    ZohoConnection {
        refresh_token: secret(refresh),
        api_domain: "https://www.zohoapis.eu".into(),
        accounts_url: "https://accounts.zoho.eu".into(),
        status: ConnectionStatus::Connected,
        status_reason: None,
        updated_at: Utc::now(),
    }
}

fn link(product: &str, item: &str) -> ItemLink {
    ItemLink {
        product_id: product.into(),
        tenant_id: "tenant-1".into(),
        item_id: item.into(),
        code: format!("CODE-{product}"),
        payload_hash: "abc123".into(),
        synced_at: Utc::now(),
    }
}

#[tokio::test]
async fn xero_tokens_rotate_by_compare_and_set() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert!(store.load_xero_tokens().await.expect("load").is_none());

    assert!(store.replace_xero_tokens(None, &tokens("access-1", "refresh-1")).await.expect("first"));
    assert!(!store.replace_xero_tokens(None, &tokens("access-x", "refresh-x")).await.expect("row exists"));
    let first = store.load_xero_tokens().await.expect("load").expect("tokens");
    assert_eq!(first.access_token.expose_secret(), "access-1");
    assert_eq!(first.refresh_token.expose_secret(), "refresh-1");
    assert!(first.previous_refresh_token.is_none() && first.rotated_at.is_none());
    assert_eq!(first.version, 1);

    assert!(store.replace_xero_tokens(Some(first.version), &tokens("access-2", "refresh-2")).await.expect("rotate"));
    let second = store.load_xero_tokens().await.expect("load").expect("tokens");
    assert_eq!(second.refresh_token.expose_secret(), "refresh-2");
    assert_eq!(second.previous_refresh_token.as_ref().map(|t| t.expose_secret()), Some("refresh-1"));
    let rotated_at = second.rotated_at.expect("rotated_at");
    assert!((Utc::now() - rotated_at).num_seconds().abs() < 60);
    let grace = TimeDelta::minutes(30);
    assert_eq!(second.retryable_previous(Utc::now(), grace).map(|t| t.expose_secret()), Some("refresh-1"));
    assert!(second.retryable_previous(rotated_at + TimeDelta::minutes(31), grace).is_none(), "past Xero's grace");
    assert_eq!(second.version, 2);
    let left = (second.access_expires_at - Utc::now()).num_seconds();
    assert!((28 * 60..=30 * 60).contains(&left), "the expiry round-trips: {left}s left");

    assert!(!store.replace_xero_tokens(Some(1), &tokens("access-3", "refresh-3")).await.expect("stale"));
    assert_eq!(store.load_xero_tokens().await.expect("load").expect("tokens").version, 2);

    store.clear_xero_tokens().await.expect("clear");
    assert!(store.load_xero_tokens().await.expect("load").is_none());
    assert!(
        !store.replace_xero_tokens(Some(2), &tokens("access-4", "refresh-4")).await.expect("stale after clear"),
        "a holder from before the clear cannot write"
    );
    assert!(store.replace_xero_tokens(None, &tokens("access-5", "refresh-5")).await.expect("reconsent"));
    let again = store.load_xero_tokens().await.expect("load").expect("tokens");
    assert_eq!(again.refresh_token.expose_secret(), "refresh-5");
    assert!(again.previous_refresh_token.is_none(), "nothing of the cleared set survives");
    assert!(again.version > 2, "versions never repeat: {}", again.version);
}

#[tokio::test]
async fn concurrent_refreshes_with_the_same_version_have_exactly_one_winner() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    // A second pool on the same file stands in for a second process.
    let other = Store::connect(&url(&dir), cipher(1)).await.expect("second connection");
    let (first_a, first_b) = (tokens("a-0", "a-0"), tokens("b-0", "b-0"));
    let (a, b) = tokio::join!(store.replace_xero_tokens(None, &first_a), other.replace_xero_tokens(None, &first_b));
    assert_eq!([a.expect("a"), b.expect("b")].iter().filter(|won| **won).count(), 1);

    for round in 1..=20 {
        let version = store.load_xero_tokens().await.expect("load").expect("tokens").version;
        let (mine, theirs) = (tokens(&format!("a-{round}"), &format!("ra-{round}")), tokens("b", "rb"));
        let clone = store.clone();
        let (a, b, c) = tokio::join!(
            store.replace_xero_tokens(Some(version), &mine),
            other.replace_xero_tokens(Some(version), &theirs),
            clone.replace_xero_tokens(Some(version), &theirs)
        );
        let wins = [a.expect("a"), b.expect("b"), c.expect("c")];
        assert_eq!(wins.iter().filter(|won| **won).count(), 1, "round {round}: {wins:?}");
        let now = store.load_xero_tokens().await.expect("load").expect("tokens");
        assert_eq!(now.version, version + 1);
        let winner_refresh = if wins[0] { format!("ra-{round}") } else { "rb".to_owned() };
        assert_eq!(now.refresh_token.expose_secret(), winner_refresh);
    }
}

#[tokio::test]
async fn secrets_never_reach_the_file_in_plaintext() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    store.replace_xero_tokens(None, &tokens("ACCESS-PLAINTEXT-1", "REFRESH-PLAINTEXT-1")).await.expect("tokens");
    let version = store.load_xero_tokens().await.expect("load").expect("tokens").version;
    store
        .replace_xero_tokens(Some(version), &tokens("ACCESS-PLAINTEXT-2", "REFRESH-PLAINTEXT-2"))
        .await
        .expect("rotate");
    store.save_zoho_connection(&zoho_connection("ZOHO-REFRESH-PLAINTEXT")).await.expect("zoho");
    store.save_oauth_state("state-1", &secret("PKCE-VERIFIER-PLAINTEXT"), TimeDelta::minutes(10)).await.expect("state");
    let (session_id, csrf) = store.create_admin_session(TimeDelta::hours(1)).await.expect("session");
    store.set_api_key_hash(&hash_api_key("WIDGET-API-KEY-PLAINTEXT")).await.expect("api key");
    store.save_xero_connection(&xero_connection("TENANT-VISIBLE")).await.expect("connection");

    // Checkpointed or not, everything is in the database file or its WAL.
    let mut raw = Vec::new();
    for suffix in ["", "-wal"] {
        let path = PathBuf::from(format!("{}{suffix}", db(&dir).display()));
        raw.extend(std::fs::read(&path).unwrap_or_default());
    }
    let contains = |needle: &str| raw.windows(needle.len()).any(|window| window == needle.as_bytes());
    assert!(contains("TENANT-VISIBLE"), "the scan sees what is stored in clear");
    for plaintext in [
        "ACCESS-PLAINTEXT-1",
        "REFRESH-PLAINTEXT-1",
        "ACCESS-PLAINTEXT-2",
        "REFRESH-PLAINTEXT-2",
        "ZOHO-REFRESH-PLAINTEXT",
        "PKCE-VERIFIER-PLAINTEXT",
        "WIDGET-API-KEY-PLAINTEXT",
        session_id.expose_secret(),
        csrf.expose_secret(),
    ] {
        assert!(!contains(plaintext), "{plaintext} is in the database file");
    }
}

#[tokio::test]
async fn reopening_keeps_everything_and_a_wrong_key_cannot_read_secrets() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    store.replace_xero_tokens(None, &tokens("access", "refresh")).await.expect("tokens");
    store.save_zoho_connection(&zoho_connection("zoho-refresh")).await.expect("zoho");
    store.save_xero_connection(&xero_connection("t1")).await.expect("connection");
    store.save_item_link(&link("p1", "i1")).await.expect("link");
    let run = store.begin_sync("p1", Some("t1"), "ann@example.com", SyncTrigger::Widget).await.expect("begin");
    store.close().await;

    let reopened = open(&dir).await;
    let loaded = reopened.load_xero_tokens().await.expect("load").expect("tokens");
    assert_eq!(loaded.refresh_token.expose_secret(), "refresh");
    assert_eq!(
        reopened.zoho_connection().await.expect("zoho").expect("zoho").refresh_token.expose_secret(),
        "zoho-refresh"
    );
    assert_eq!(reopened.xero_connection().await.expect("conn").expect("conn").tenant_id, "t1");
    assert!(reopened.item_link("p1", "tenant-1").await.expect("link").is_some());
    let history = reopened.history("p1", 10).await.expect("history");
    assert_eq!((history[0].run_id.as_str(), history[0].outcome), (run.as_str(), SyncOutcome::Running));
    reopened.close().await;

    let wrong = Store::connect(&url(&dir), cipher(2)).await.expect("connect with another key");
    let error = wrong.load_xero_tokens().await.expect_err("wrong key");
    assert!(matches!(error, StoreError::Secret { .. }), "{error:?}");
    assert!(error.to_string().contains("wrong master key"), "{error}");
    assert!(matches!(wrong.zoho_connection().await, Err(StoreError::Secret { .. })));
    assert_eq!(wrong.xero_connection().await.expect("not secret").expect("conn").tenant_id, "t1");
}

#[tokio::test]
async fn xero_connection_status_and_pending_tenants() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert!(store.xero_connection().await.expect("none").is_none());
    assert!(!store.set_xero_status(ConnectionStatus::ReconnectNeeded, Some("x")).await.expect("no row"));

    store.save_xero_connection(&xero_connection("t1")).await.expect("save");
    store.save_xero_connection(&xero_connection("t2")).await.expect("replace");
    let saved = store.xero_connection().await.expect("load").expect("connection");
    assert_eq!(
        (saved.tenant_id.as_str(), saved.tenant_name.as_str(), saved.connection_id.as_str()),
        ("t2", "Org t2", "conn-t2")
    );
    assert_eq!((saved.status, saved.status_reason.as_deref()), (ConnectionStatus::Connected, None));

    assert!(store.set_xero_status(ConnectionStatus::ReconnectNeeded, Some("invalid_grant")).await.expect("status"));
    let marked = store.xero_connection().await.expect("load").expect("connection");
    assert_eq!(
        (marked.status, marked.status_reason.as_deref()),
        (ConnectionStatus::ReconnectNeeded, Some("invalid_grant"))
    );
    assert!(marked.updated_at >= saved.updated_at);
    assert!(store.set_xero_status(ConnectionStatus::Connected, None).await.expect("status"));
    assert_eq!(store.xero_connection().await.expect("load").expect("c").status_reason, None);

    store.delete_xero_connection().await.expect("delete");
    assert!(store.xero_connection().await.expect("load").is_none());

    assert!(store.pending_tenants().await.expect("none").is_empty());
    let tenants: Vec<PendingTenant> = ["b", "a", "c"]
        .iter()
        .map(|t| PendingTenant {
            tenant_id: (*t).into(),
            tenant_name: format!("Org {t}"),
            connection_id: format!("c-{t}"),
        })
        .collect();
    store.save_pending_tenants(&tenants).await.expect("save");
    assert_eq!(store.pending_tenants().await.expect("load"), tenants, "in the order saved");
    store.save_pending_tenants(&tenants[..1]).await.expect("replace");
    assert_eq!(store.pending_tenants().await.expect("load"), tenants[..1]);
    store.save_pending_tenants(&[]).await.expect("clear");
    assert!(store.pending_tenants().await.expect("load").is_empty());
}

#[tokio::test]
async fn zoho_connection_round_trips_and_tracks_status() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert!(store.zoho_connection().await.expect("none").is_none());
    assert!(!store.set_zoho_status(ConnectionStatus::ReconnectNeeded, None).await.expect("no row"));

    store.save_zoho_connection(&zoho_connection("r1")).await.expect("save");
    let saved = store.zoho_connection().await.expect("load").expect("zoho");
    assert_eq!(saved.refresh_token.expose_secret(), "r1");
    assert_eq!(
        (saved.api_domain.as_str(), saved.accounts_url.as_str()),
        ("https://www.zohoapis.eu", "https://accounts.zoho.eu")
    );

    let mut moved = zoho_connection("r1");
    moved.api_domain = "https://www.zohoapis.com.au".into();
    store.save_zoho_connection(&moved).await.expect("new api domain");
    assert_eq!(store.zoho_connection().await.expect("load").expect("z").api_domain, "https://www.zohoapis.com.au");

    assert!(store.set_zoho_status(ConnectionStatus::ReconnectNeeded, Some("invalid_code")).await.expect("status"));
    let marked = store.zoho_connection().await.expect("load").expect("zoho");
    assert_eq!(
        (marked.status, marked.status_reason.as_deref()),
        (ConnectionStatus::ReconnectNeeded, Some("invalid_code"))
    );
    assert_eq!(marked.refresh_token.expose_secret(), "r1", "status changes keep the grant");

    store.delete_zoho_connection().await.expect("delete");
    assert!(store.zoho_connection().await.expect("load").is_none());
}

#[tokio::test]
async fn item_links_upsert_and_one_item_belongs_to_one_product() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert!(store.item_link("p1", "tenant-1").await.expect("none").is_none());

    store.save_item_link(&link("p1", "item-1")).await.expect("save");
    let saved = store.item_link("p1", "tenant-1").await.expect("load").expect("link");
    assert_eq!(
        (saved.item_id.as_str(), saved.code.as_str(), saved.payload_hash.as_str()),
        ("item-1", "CODE-p1", "abc123")
    );
    assert!(store.item_link("p1", "tenant-2").await.expect("other tenant").is_none());

    let mut updated = link("p1", "item-1");
    updated.payload_hash = "def456".into();
    updated.code = "NEW-CODE".into();
    store.save_item_link(&updated).await.expect("upsert");
    let by_item = store.item_link_by_item("tenant-1", "item-1").await.expect("by item").expect("link");
    assert_eq!(
        (by_item.product_id.as_str(), by_item.code.as_str(), by_item.payload_hash.as_str()),
        ("p1", "NEW-CODE", "def456")
    );
    assert_eq!(by_item.synced_at.timestamp_millis(), updated.synced_at.timestamp_millis());
    assert!(store.item_link_by_item("tenant-1", "item-2").await.expect("none").is_none());

    match store.save_item_link(&link("p2", "item-1")).await {
        Err(StoreError::ItemLinkedElsewhere { product_id, item_id, .. }) => {
            assert_eq!((product_id.as_str(), item_id.as_str()), ("p1", "item-1"))
        }
        other => panic!("expected ItemLinkedElsewhere, got {other:?}"),
    }
    // The same item id in another tenant is another item.
    let mut elsewhere = link("p2", "item-1");
    elsewhere.tenant_id = "tenant-2".into();
    store.save_item_link(&elsewhere).await.expect("other tenant");
    // A product may move to a new item (e.g. the old one was deleted in Xero).
    store.save_item_link(&link("p1", "item-9")).await.expect("relink");
    assert!(store.item_link_by_item("tenant-1", "item-1").await.expect("freed").is_none());
    // Or lose its link, when the item is gone and nothing replaces it yet.
    assert!(store.delete_item_link("p1", "tenant-1").await.expect("delete"));
    assert!(store.item_link("p1", "tenant-1").await.expect("load").is_none());
    assert!(!store.delete_item_link("p1", "tenant-1").await.expect("delete"), "nothing left to delete");
    assert!(store.item_link("p2", "tenant-2").await.expect("load").is_some(), "only that product's link");
}

/// What Xero held after our write is kept with the link, and forgotten by a write that does not say.
#[tokio::test]
async fn an_item_link_keeps_what_xero_held_until_a_write_without_it() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    let state = ItemState {
        code: "CODE-p1".into(),
        unit_price: Some(39.95),
        updated_at: chrono::DateTime::from_timestamp_millis(1_764_288_000_000),
        ..ItemState::default()
    };
    store.save_item_link_with_state(&link("p1", "item-1"), &state).await.expect("save");
    let (saved, kept) = store.item_link_with_state("p1", "tenant-1").await.expect("load").expect("link");
    assert_eq!((saved.item_id.as_str(), kept), ("item-1", Some(state)));
    store.save_item_link(&link("p1", "item-1")).await.expect("save without");
    let (_, kept) = store.item_link_with_state("p1", "tenant-1").await.expect("load").expect("link");
    assert_eq!(kept, None, "a stale state would look like an edit made in Xero");
    assert!(store.item_link_with_state("p2", "tenant-1").await.expect("none").is_none());
}

/// Organisation settings: a never-written one reads as its default; each change is audited with the value it
/// replaced, concurrent changes included; the same value again changes and audits nothing; all of it
/// survives reopening the database.
#[tokio::test]
async fn organisation_settings_are_typed_and_every_change_is_audited() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert_eq!(store.org_setting::<DefaultGlAccount>().await.expect("read"), None);
    assert!(store.org_setting::<TaxMappings>().await.expect("read").is_empty());
    assert!(!store.set_org_setting::<DefaultGlAccount>(&None, "admin").await.expect("same as unset"), "no change");
    assert!(store.org_settings_audit(10).await.expect("audit").is_empty());

    // Ten admins at once: each change records exactly the value it replaced, so the trail is a chain.
    let writes =
        (0..10).map(|i| {
            let store = store.clone();
            async move {
                store.set_org_setting::<DefaultGlAccount>(&Some(format!("{}", 200 + i)), &format!("admin {i}")).await
            }
        });
    let changed = futures::future::join_all(writes).await;
    assert!(changed.into_iter().all(|c| c.expect("stored")), "every one changed the value");
    let audit = store.org_settings_audit(20).await.expect("audit");
    assert_eq!(audit.len(), 10);
    assert_eq!(audit.last().expect("first").old, None, "the first replaced nothing");
    for pair in audit.windows(2) {
        assert_eq!(pair[0].old.as_ref(), Some(&pair[1].new), "newest first, each replacing the one before");
    }
    let last = audit[0].new.as_str().expect("code").to_owned();
    assert!(!store.set_org_setting::<DefaultGlAccount>(&Some(last.clone()), "admin").await.expect("same"));
    assert_eq!(store.org_settings_audit(20).await.expect("audit").len(), 10, "the same value is no change");

    store.close().await;
    let store = open(&dir).await;
    assert_eq!(store.org_setting::<DefaultGlAccount>().await.expect("read"), Some(last));
    assert_eq!(
        store.org_defaults().await.expect("defaults").gl_account(),
        store.org_setting::<DefaultGlAccount>().await.expect("read").as_deref()
    );
}

#[tokio::test]
async fn the_sync_log_records_runs_newest_first() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    let first = store.begin_sync("p1", Some("t1"), "ann@example.com", SyncTrigger::Widget).await.expect("begin");
    let request = serde_json::json!({"Items": [{"Code": "A1", "Name": "Widget"}]});
    let response = serde_json::json!({"StatusAttributeString": "OK", "ItemID": "item-1", "Code": "A1"});
    store.record_sync_product(&first, Some("Widget"), Some("A1")).await.expect("product");
    store
        .finish_sync(
            &first,
            SyncOutcome::Created,
            Some("item-1"),
            Some(&request),
            Some(&response),
            &["Item created".to_owned()],
        )
        .await
        .expect("finish");
    let second = store.begin_sync("p1", None, "admin", SyncTrigger::Admin).await.expect("begin");
    store
        .finish_sync(
            &second,
            SyncOutcome::Refused,
            None,
            None,
            None,
            &["Xero_GL_Account: choose an account".to_owned()],
        )
        .await
        .expect("finish");
    let crashed = store.begin_sync("p1", Some("t1"), "scheduler", SyncTrigger::Schedule).await.expect("begin");
    let other = store.begin_sync("p2", Some("t1"), "scheduler", SyncTrigger::Bulk).await.expect("begin");

    let history = store.history("p1", 10).await.expect("history");
    let runs: Vec<_> = history.iter().map(|e| (e.run_id.as_str(), e.outcome)).collect();
    assert_eq!(
        runs,
        [
            (crashed.as_str(), SyncOutcome::Running),
            (second.as_str(), SyncOutcome::Refused),
            (first.as_str(), SyncOutcome::Created)
        ]
    );
    let running = &history[0];
    assert!(running.finished_at.is_none() && running.messages.is_empty() && running.request.is_none());
    assert!(running.response.is_none() && running.product_name.is_none() && running.product_code.is_none());
    let created = &history[2];
    assert_eq!(created.product_id, "p1");
    assert_eq!(created.tenant_id.as_deref(), Some("t1"));
    assert_eq!((created.actor.as_str(), created.trigger), ("ann@example.com", SyncTrigger::Widget));
    assert_eq!(created.request.as_ref(), Some(&request));
    assert_eq!(created.response.as_ref(), Some(&response));
    assert_eq!((created.product_name.as_deref(), created.product_code.as_deref()), (Some("Widget"), Some("A1")));
    assert_eq!(created.item_id.as_deref(), Some("item-1"));
    assert_eq!(created.messages, ["Item created"]);
    assert!(created.finished_at.expect("finished") >= created.started_at);
    assert_eq!((history[1].tenant_id.as_deref(), history[1].trigger), (None, SyncTrigger::Admin));

    assert_eq!(store.history("p1", 2).await.expect("limited").len(), 2);
    assert!(store.history("p3", 10).await.expect("none").is_empty());
    let recent: Vec<_> = store.recent_log(3).await.expect("recent").into_iter().map(|e| e.run_id).collect();
    assert_eq!(recent, [other.clone(), crashed.clone(), second.clone()]);

    assert!(matches!(
        store.finish_sync(&first, SyncOutcome::Updated, None, None, None, &[]).await,
        Err(StoreError::RunNotRunning(_))
    ));
    assert!(matches!(
        store.finish_sync("no-such-run", SyncOutcome::Failed, None, None, None, &[]).await,
        Err(StoreError::RunNotRunning(_))
    ));
    assert!(matches!(
        store.finish_sync(&other, SyncOutcome::Running, None, None, None, &[]).await,
        Err(StoreError::InvalidArgument(_))
    ));
    let entry = serde_json::to_value(&history[2]).expect("serialize");
    assert_eq!((entry["outcome"].as_str(), entry["trigger"].as_str()), (Some("created"), Some("widget")));
}

#[tokio::test]
async fn the_api_key_is_kept_as_a_hash_and_rotates() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    assert!(store.api_key_hash().await.expect("none").is_none());
    assert_eq!(store.set_api_key_hash(&hash_api_key("key-1")).await.expect("set"), 1, "the first key");
    assert_eq!(store.api_key_hash().await.expect("load"), Some(hash_api_key("key-1")));
    assert_eq!(store.set_api_key_hash(&hash_api_key("key-2")).await.expect("rotate"), 2, "a rotation counts");
    let stored = store.api_key_hash().await.expect("load").expect("hash");
    assert_eq!(stored, hash_api_key("key-2"));
    assert_ne!(stored, hash_api_key("key-1"));
    let key = store.api_key().await.expect("load").expect("key");
    assert_eq!((key.hash, key.generation), (hash_api_key("key-2"), 2));
    // The generation outlives the process: a reopened store keeps counting.
    drop(store);
    let store = open(&dir).await;
    assert_eq!(store.set_api_key_hash(&hash_api_key("key-3")).await.expect("rotate"), 3);
}

#[tokio::test]
async fn a_widget_session_is_noted_once_per_api_key() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    store.note_widget_session().await.expect("no key yet: nothing to note");
    assert!(store.widget_first_session().await.expect("load").is_none());
    store.set_api_key_hash(&hash_api_key("key-1")).await.expect("set");
    assert!(store.widget_first_session().await.expect("load").is_none());
    store.note_widget_session().await.expect("note");
    let first = store.widget_first_session().await.expect("load").expect("noted");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.note_widget_session().await.expect("again");
    assert_eq!(store.widget_first_session().await.expect("load"), Some(first), "the first one stays");
    store.set_api_key_hash(&hash_api_key("key-2")).await.expect("rotate");
    assert!(store.widget_first_session().await.expect("load").is_none(), "a new key starts over");
}

/// Logs one finished sync of `product` (named `name`, coded `code`) and returns its row id.
async fn logged(
    store: &Store,
    product: &str,
    name: &str,
    code: &str,
    outcome: SyncOutcome,
    trigger: SyncTrigger,
) -> i64 {
    let run = store.begin_sync(product, Some("t1"), "ann", trigger).await.expect("begin");
    store.record_sync_product(&run, Some(name), Some(code)).await.expect("product");
    let request = serde_json::json!({"Code": code, "Name": name});
    store
        .finish_sync(&run, outcome, None, Some(&request), None, &[format!("{name} {}", outcome.as_str())])
        .await
        .expect("finish");
    store.history(product, 1).await.expect("history")[0].id
}

#[tokio::test]
async fn the_log_is_read_by_keyset_pages_and_filters() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    use SyncOutcome::*;
    use SyncTrigger::*;
    let a = logged(&store, "101", "Wireless Mouse", "WM-100", Created, Widget).await;
    let b = logged(&store, "102", "USB Cable", "UC-1", Refused, Widget).await;
    let c = logged(&store, "103", "50% Off Voucher", "V_50", Failed, Bulk).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let d = logged(&store, "101", "Wireless Mouse", "WM-100", Updated, Admin).await;
    let e = logged(&store, "104", "=HYPERLINK(\"x\")", "H-1", Interrupted, Schedule).await;
    let running = store.begin_sync("105", None, "ann", Widget).await.expect("begin");
    let f = store.history("105", 1).await.expect("history")[0].id;

    let ids = |entries: &[backend::store::SyncLogEntry]| entries.iter().map(|e| e.id).collect::<Vec<_>>();
    let all = LogFilter::default();
    let first = store.log_page(&all, LogCursor::Newest, 4).await.expect("page");
    assert_eq!(ids(&first.entries), [f, e, d, c]);
    assert_eq!((first.newer, first.older), (None, Some(c)));
    let second = store.log_page(&all, LogCursor::Before(c), 4).await.expect("older");
    assert_eq!(ids(&second.entries), [b, a]);
    assert_eq!((second.newer, second.older), (Some(b), None));
    let back = store.log_page(&all, LogCursor::After(b), 4).await.expect("newer");
    assert_eq!(ids(&back.entries), [f, e, d, c], "newer pages are newest first too");
    assert_eq!((back.newer, back.older), (None, Some(c)));
    let middle = store.log_page(&all, LogCursor::Before(e), 2).await.expect("middle");
    assert_eq!((ids(&middle.entries), middle.newer, middle.older), (vec![d, c], Some(d), Some(c)));

    let find = |filter: LogFilter| {
        let store = store.clone();
        async move { ids(&store.log_page(&filter, LogCursor::Newest, 50).await.expect("page").entries) }
    };
    let product = |text: &str| LogFilter { product: Some(text.to_owned()), ..LogFilter::default() };
    assert_eq!(find(product("wireless")).await, [d, a], "part of the name, any case");
    assert_eq!(find(product("uc-1")).await, [b], "the code");
    assert_eq!(find(product("103")).await, [c], "the record id");

    assert_eq!(find(product("50%")).await, [c], "LIKE's own characters are literal");
    assert_eq!(find(product("V_5")).await, [c]);
    assert!(find(product("V%5")).await.is_empty());
    let outcomes = LogFilter { outcomes: SyncOutcome::NEEDS_ATTENTION.to_vec(), ..LogFilter::default() };
    assert_eq!(find(outcomes).await, [e, c, b]);
    assert_eq!(find(LogFilter { trigger: Some(Widget), ..LogFilter::default() }).await, [f, b, a]);
    let run = store.history("102", 1).await.expect("history")[0].run_id.clone();
    assert_eq!(find(LogFilter { run: Some(run), ..LogFilter::default() }).await, [b]);
    assert_eq!(find(LogFilter { from: Some(between), ..LogFilter::default() }).await, [f, e, d]);
    assert_eq!(find(LogFilter { to: Some(between), ..LogFilter::default() }).await, [c, b, a]);
    let both =
        LogFilter { to: Some(between), trigger: Some(Widget), product: Some("mouse".into()), ..LogFilter::default() };
    assert_eq!(find(both).await, [a]);
    let empty = store.log_page(&product("nothing"), LogCursor::Newest, 5).await.expect("page");
    assert!(empty.entries.is_empty() && empty.newer.is_none() && empty.older.is_none());

    let export = store.log_export(&all, Some(d), 2).await.expect("export");
    assert_eq!(ids(&export), [c, b]);
    assert!(export.iter().all(|e| e.request.is_none() && e.response.is_none()), "no bodies in exports");
    assert_eq!(export[0].product_name(), Some("50% Off Voucher"));

    let counts = store.outcome_counts(between).await.expect("counts");
    assert_eq!((counts.updated, counts.interrupted, counts.running, counts.created, counts.total()), (1, 1, 1, 0, 3));

    // Retention: finished rows older than the cut-off go, in batches; a running one stays.
    assert_eq!(store.purge_log(between, 2).await.expect("purge"), 3);
    assert_eq!(find(LogFilter::default()).await, [f, e, d]);
    assert_eq!(store.purge_log(Utc::now() + TimeDelta::seconds(1), 1).await.expect("purge"), 2);
    assert_eq!(find(LogFilter::default()).await, [f]);
    assert_eq!(store.running_syncs().await.expect("running")[0].run_id, running);

    // A Zoho record id (long digits) matches that product exactly, through its index.
    let long = logged(&store, "4150868000000411001", "Long Id", "4150868000000411001-B", Created, Widget).await;
    assert_eq!(find(product("4150868000000411001")).await, [long]);
    assert!(find(product("415086800000041100")).await.is_empty(), "not a part of one, nor of a code");
}

#[tokio::test]
async fn admin_sessions_live_until_they_expire_or_are_deleted() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    let (id, csrf) = store.create_admin_session(TimeDelta::hours(8)).await.expect("create");
    assert_eq!(id.expose_secret().len(), 43, "32 bytes, base64url");
    assert_eq!(csrf.expose_secret().len(), 43);
    assert_ne!(id.expose_secret(), csrf.expose_secret());

    let session = store.admin_session(id.expose_secret()).await.expect("load").expect("live");
    assert_eq!(session.csrf_token.expose_secret(), csrf.expose_secret());
    assert!((session.expires_at - Utc::now() - TimeDelta::hours(8)).num_seconds().abs() < 60);
    assert!(session.csrf_matches(csrf.expose_secret()));
    assert!(!session.csrf_matches("nope"));
    assert!(!session.csrf_matches(&csrf.expose_secret().replace(|_: char| true, "A")));
    assert!(store.admin_session("not-a-session").await.expect("unknown").is_none());
    assert!(store.admin_session(csrf.expose_secret()).await.expect("csrf is no session id").is_none());

    let (other, _) = store.create_admin_session(TimeDelta::hours(1)).await.expect("second");
    store.delete_admin_session(id.expose_secret()).await.expect("logout");
    assert!(store.admin_session(id.expose_secret()).await.expect("gone").is_none());
    assert!(store.admin_session(other.expose_secret()).await.expect("other").is_some(), "only that session ends");

    let (expired, _) = store.create_admin_session(TimeDelta::seconds(-1)).await.expect("expired");
    assert!(store.admin_session(expired.expose_secret()).await.expect("expired").is_none());
    assert!(matches!(store.create_admin_session(TimeDelta::MAX).await, Err(StoreError::InvalidArgument(_))));
}

#[tokio::test]
async fn oauth_states_are_single_use_and_expire() {
    let dir = TempDir::new("store");
    let store = open(&dir).await;
    store.save_oauth_state("state-a", &secret("verifier-a"), TimeDelta::minutes(10)).await.expect("save");
    store.save_oauth_state("state-b", &secret("verifier-b"), TimeDelta::minutes(10)).await.expect("save");
    store.save_oauth_state("state-old", &secret("verifier-old"), TimeDelta::seconds(-1)).await.expect("save");

    let taken = store.take_oauth_state("state-a").await.expect("take").expect("verifier");
    assert_eq!(taken.expose_secret(), "verifier-a");
    assert!(store.take_oauth_state("state-a").await.expect("again").is_none(), "single use");
    assert!(store.take_oauth_state("state-old").await.expect("expired").is_none());
    assert!(store.take_oauth_state("state-unknown").await.expect("unknown").is_none());
    assert_eq!(store.take_oauth_state("state-b").await.expect("take").expect("b").expose_secret(), "verifier-b");
}

#[tokio::test]
async fn connect_creates_the_directory_and_in_memory_stores_are_shared_by_clones() {
    let dir = TempDir::new("store");
    assert!(!db(&dir).parent().is_some_and(Path::exists));
    let store = open(&dir).await;
    assert!(db(&dir).exists());
    drop(store);

    let memory = Store::in_memory(cipher(1)).await.expect("memory");
    let clone = memory.clone();
    clone.save_xero_connection(&xero_connection("m1")).await.expect("save");
    // Several concurrent reads use several pooled connections: all see the one database.
    let reads = futures_join(&memory).await;
    assert!(reads.iter().all(|tenant| tenant == "m1"), "{reads:?}");
    let fresh = Store::in_memory(cipher(1)).await.expect("another");
    assert!(fresh.xero_connection().await.expect("empty").is_none(), "each in-memory store is private");
}

async fn futures_join(store: &Store) -> Vec<String> {
    let (a, b, c, d) = tokio::join!(
        store.xero_connection(),
        store.xero_connection(),
        store.xero_connection(),
        store.xero_connection()
    );
    [a, b, c, d].into_iter().map(|r| r.expect("read").expect("connection").tenant_id).collect()
}
