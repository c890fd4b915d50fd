//! The bulk runs' store against a real SQLite file, opened twice as two processes would: one active run per
//! organisation, exclusive claims, fences that shut out a worker that lost its lease, one run per schedule
//! slot, and the commit of a batch as one transaction.

use std::time::Duration;

use backend::crypto::{Cipher, MasterKey};
use backend::store::{
    EventLevel, ItemLink, ItemState, Lease, NewRun, ProductFilter, ProductOutcome, ProductRecord, Run, RunEnd,
    RunState, RunTrigger, RunWindow, Store, StoreError,
};
use chrono::{TimeDelta, Utc};

use crate::support::TempDir;

async fn two_stores(dir: &TempDir) -> (Store, Store) {
    let url = format!("sqlite://{}/runs.db?mode=rwc", dir.0.display());
    let cipher = || Cipher::new(&MasterKey::from_bytes([3; 32]));
    let first = Store::connect(&url, cipher()).await.expect("first");
    let second = Store::connect(&url, cipher()).await.expect("second");
    (first, second)
}

fn new_run(tenant: &str, trigger: RunTrigger) -> NewRun {
    NewRun {
        tenant_id: tenant.into(),
        trigger,
        actor: "admin".into(),
        window: RunWindow::All,
        dry_run: false,
        schedule_slot: None,
    }
}

fn lease_of(run: &Run) -> Lease {
    Lease { run_id: run.id, owner: run.lease_owner.clone().expect("claimed"), fence: run.fence }
}

#[tokio::test]
async fn one_active_run_per_organisation_whoever_asks() {
    let dir = TempDir::new("runs-active");
    let (a, b) = two_stores(&dir).await;
    let first = a.create_run(&new_run("t1", RunTrigger::Admin), None).await.expect("first");
    assert_eq!((first.state, first.fence), (RunState::Queued, 0));
    match b.create_run(&new_run("t1", RunTrigger::Cli), Some(("cli", Duration::from_secs(60)))).await {
        Err(StoreError::RunActive(active)) => assert_eq!(active.id, first.id),
        other => panic!("expected RunActive, got {other:?}"),
    }
    let other_org = b.create_run(&new_run("t2", RunTrigger::Cli), None).await.expect("another organisation");
    assert_ne!(other_org.id, first.id);
    // Cancelled, the organisation is free; resuming the cancelled one is then refused while another runs.
    a.cancel_run(first.id, "admin").await.expect("cancel");
    let second = b.create_run(&new_run("t1", RunTrigger::Cli), None).await.expect("free again");
    assert!(
        matches!(a.resume_run(first.id, "admin").await, Err(StoreError::RunActive(active)) if active.id == second.id)
    );
}

#[tokio::test]
async fn claims_are_exclusive_and_a_lost_lease_can_never_write_again() {
    let dir = TempDir::new("runs-fence");
    let (a, b) = two_stores(&dir).await;
    let run = a.create_run(&new_run("t1", RunTrigger::Admin), None).await.expect("run");
    let ttl = Duration::from_millis(300);
    let (first, second) = tokio::join!(a.claim_next_run("worker-a", ttl), b.claim_next_run("worker-b", ttl));
    let claims: Vec<Run> = [first.expect("a"), second.expect("b")].into_iter().flatten().collect();
    assert_eq!(claims.len(), 1, "one claim wins: {claims:?}");
    let held = &claims[0];
    assert_eq!((held.id, held.state, held.fence), (run.id, RunState::Running, 1));
    let stale = lease_of(held);
    let mut write = a.run_write(&stale, ttl).await.expect("holder writes");
    write.event(EventLevel::Info, "batch 1").await.expect("event");
    write.commit().await.expect("commit");

    // The holder stops heartbeating: once the lease expired, another worker takes the run over.
    assert!(b.claim_next_run("worker-c", ttl).await.expect("claim").is_none(), "not before it expires");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let taken = b.claim_next_run("worker-c", ttl).await.expect("claim").expect("taken over");
    assert_eq!(taken.fence, 2);
    // The old holder wakes up: nothing it writes lands, in one transaction or another.
    assert!(matches!(a.run_write(&stale, ttl).await, Err(StoreError::LeaseLost { fence: 1, .. })));
    assert!(!a.heartbeat(&stale, ttl).await.expect("heartbeat"), "its heartbeat says it lost the lease");
    let events = a.run_events(run.id).await.expect("events");
    assert_eq!(events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["batch 1"]);

    // An admin force-releases it: queued again, and the taker's fence is dead too.
    let released = a.force_release_run(run.id, "admin").await.expect("release").expect("run");
    assert_eq!((released.state, released.fence), (RunState::Queued, 3));
    assert!(matches!(b.run_write(&lease_of(&taken), ttl).await, Err(StoreError::LeaseLost { .. })));
}

#[tokio::test]
async fn a_batch_commits_whole_or_not_at_all() {
    let dir = TempDir::new("runs-batch");
    let (a, _) = two_stores(&dir).await;
    a.create_run(&new_run("t1", RunTrigger::Admin), None).await.expect("run");
    let run = a.claim_next_run("w", Duration::from_secs(60)).await.expect("claim").expect("run");
    let lease = lease_of(&run);
    let link = |product: &str, item: &str| ItemLink {
        product_id: product.into(),
        tenant_id: "t1".into(),
        item_id: item.into(),
        code: format!("C-{product}"),
        payload_hash: "h".into(),
        synced_at: Utc::now(),
    };
    let record = |product: &'static str, seq: i64, outcome: ProductOutcome| ProductRecord {
        product_id: product,
        seq,
        name: None,
        code: None,
        outcome,
        item_id: None,
        issues: &[],
        message: None,
        writeback: None,
        request: None,
        modified_time: None,
    };
    // Dropped before its commit (a crash mid-batch): nothing of it is there.
    let mut write = a.run_write(&lease, Duration::from_secs(60)).await.expect("write");
    write.link(&link("p1", "i1"), None).await.expect("link");
    write.product(&record("p1", 0, ProductOutcome::Created)).await.expect("product");
    write.checkpoint(&serde_json::json!({"next_seq": 1})).await.expect("checkpoint");
    drop(write);
    assert!(a.item_link("p1", "t1").await.expect("read").is_none());
    assert_eq!(a.run(run.id).await.expect("run").expect("run").checkpoint, serde_json::json!({}));

    let mut write = a.run_write(&lease, Duration::from_secs(60)).await.expect("write");
    // A link made by a run keeps what Xero answered it holds, as the button's does (edits made in Xero
    // since are told from it).
    let state = ItemState { code: "P1".into(), unit_price: Some(12.5), ..ItemState::default() };
    write.link(&link("p1", "i1"), Some(&state)).await.expect("link");
    // An item another product holds is refused without spoiling the transaction.
    write.link(&link("p0", "i0"), None).await.expect("p0");
    assert!(matches!(write.link(&link("p2", "i0"), None).await, Err(StoreError::ItemLinkedElsewhere { .. })));
    write.product(&record("p1", 0, ProductOutcome::Created)).await.expect("p1");
    write.product(&record("p2", 1, ProductOutcome::Failed)).await.expect("p2");
    write.product(&record("p3", 2, ProductOutcome::NotForXero)).await.expect("p3");
    write.checkpoint(&serde_json::json!({"next_seq": 3})).await.expect("checkpoint");
    write.calls(2, 1);
    write.commit().await.expect("commit");
    let after = a.run(run.id).await.expect("run").expect("run");
    let c = after.counters;
    assert_eq!((c.read, c.created, c.failed, c.not_for_xero, c.xero_calls, c.zoho_calls), (3, 1, 1, 1, 2, 1));
    assert_eq!(after.checkpoint, serde_json::json!({"next_seq": 3}));
    let (stored, stored_state) = a.item_link_with_state("p1", "t1").await.expect("read").expect("linked");
    assert_eq!((stored.item_id.as_str(), stored_state), ("i1", Some(state)));
    assert_eq!(a.pending_writebacks("t1", 10).await.expect("owed").len(), 2, "links wait for their write-back");

    // Our own echo read back as unchanged never hides "created"; a failure filter finds the failed one.
    let mut write = a.run_write(&lease, Duration::from_secs(60)).await.expect("write");
    write.product(&record("p1", 3, ProductOutcome::Unchanged)).await.expect("echo");
    write.writeback_done("t1", "p1", Utc::now()).await.expect("done");
    write.finish(RunEnd::Partial, Some("finished with 1 failed")).await.expect("finish");
    write.advance_cursor("t1", Utc::now() - TimeDelta::minutes(1)).await.expect("cursor");
    write.commit().await.expect("commit");
    let failed = a
        .run_products(run.id, &ProductFilter { outcomes: vec![ProductOutcome::Failed], limit: 10, after_seq: None })
        .await
        .expect("products");
    assert_eq!(failed.iter().map(|p| p.product_id.as_str()).collect::<Vec<_>>(), ["p2"]);
    let all = a.run_products(run.id, &ProductFilter { limit: 10, ..ProductFilter::default() }).await.expect("all");
    assert_eq!(all.iter().find(|p| p.product_id == "p1").map(|p| p.outcome), Some(ProductOutcome::Created));
    assert_eq!(a.pending_writebacks("t1", 10).await.expect("owed").len(), 1);
    let ended = a.run(run.id).await.expect("run").expect("run");
    assert_eq!((ended.state, ended.lease_owner.as_deref()), (RunState::Partial, None));
    assert!(a.sync_cursor("t1").await.expect("cursor").is_some());
    assert!(matches!(a.run_write(&lease, Duration::from_secs(60)).await, Err(StoreError::LeaseLost { .. })));
}

#[tokio::test]
async fn one_run_per_schedule_slot_however_many_processes_tick() {
    let dir = TempDir::new("runs-slot");
    let (a, b) = two_stores(&dir).await;
    let slot = Utc::now() - TimeDelta::minutes(3);
    let scheduled =
        NewRun { trigger: RunTrigger::Schedule, schedule_slot: Some(slot), ..new_run("t1", RunTrigger::Schedule) };
    let (first, second) = tokio::join!(a.create_scheduled_run(&scheduled), b.create_scheduled_run(&scheduled));
    let created: Vec<Run> = [first.expect("a"), second.expect("b")].into_iter().flatten().collect();
    assert_eq!(created.len(), 1, "one of the two ticks creates it");
    // Finished, the slot still has its run: a late tick of the same slot creates nothing.
    a.cancel_run(created[0].id, "admin").await.expect("end it");
    assert!(b.create_scheduled_run(&scheduled).await.expect("late tick").is_none());
    let next = NewRun { schedule_slot: Some(slot + TimeDelta::hours(4)), ..scheduled.clone() };
    assert!(b.create_scheduled_run(&next).await.expect("next slot").is_some());
    // While a run is active, a slot's tick creates nothing (it is offered again at the next tick).
    let later = NewRun { schedule_slot: Some(slot + TimeDelta::hours(8)), ..scheduled };
    assert!(a.create_scheduled_run(&later).await.expect("busy").is_none());
    assert!(a.set_schedule("t1", Some(5), "admin").await.is_err(), "5 hours is not offered");
    let schedule = a.set_schedule("t1", Some(6), "admin").await.expect("on");
    assert!(schedule.enabled && schedule.every_hours == 6);
    let off = b.set_schedule("t1", None, "admin").await.expect("off");
    assert!(!off.enabled && off.every_hours == 6, "off keeps the interval for next time");
}
