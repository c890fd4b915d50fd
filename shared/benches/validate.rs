//! How long the rules take per product, as the widget runs them on every keystroke and the backend on
//! every sync. Reports nanoseconds per call and, because machines are noisy, each case as a ratio to
//! parsing the same record from JSON in the same run.
//!
//! cargo bench -p shared --bench validate

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::{Account, CrmProduct, FieldMap, TaxRate, XeroContext, validate};

fn record(gl_account: &str) -> Value {
    json!({
        "id": "4150868000000224005", "Product_Name": "Ergonomic Chair", "Product_Code": "CHAIR-ERGO",
        "Product_Active": true, "Taxable": true, "Tax": [{"id": "4150868000000045001", "value": "GST - 10.0 %"}],
        "Unit_Price": 349.5, "Description": "Mesh back, adjustable arms. ".repeat(20),
        "Modified_Time": "2026-11-20T10:15:00+11:00", "Add_to_Xero": true,
        "Xero_GL_Account": gl_account, "Xero_Tax_Rate": "GST on Income"
    })
}

/// A chart the size of a busy organisation's: 150 accounts, 40 tax rates.
fn organisation() -> (Vec<Account>, Vec<TaxRate>) {
    let mut accounts: Vec<Account> = (0..149)
        .map(|i| Account {
            account_id: format!("a{i}"),
            code: Some(format!("{}", 300 + i)),
            name: format!("Expense account number {i}"),
            status: "ACTIVE".into(),
            class: "EXPENSE".into(),
            account_type: "EXPENSE".into(),
            system_account: None,
        })
        .collect();
    accounts.push(Account {
        account_id: "sales".into(),
        code: Some("200".into()),
        name: "Sales".into(),
        status: "ACTIVE".into(),
        class: "REVENUE".into(),
        account_type: "REVENUE".into(),
        system_account: None,
    });
    let mut rates: Vec<TaxRate> = (0..39)
        .map(|i| TaxRate {
            name: format!("Rate {i}"),
            tax_type: format!("TAX{i:03}"),
            status: "ACTIVE".into(),
            can_apply_to_revenue: i % 2 == 0,
            effective_rate: Some(f64::from(i)),
        })
        .collect();
    rates.push(TaxRate {
        name: "GST on Income".into(),
        tax_type: "OUTPUT".into(),
        status: "ACTIVE".into(),
        can_apply_to_revenue: true,
        effective_rate: Some(10.0),
    });
    (accounts, rates)
}

/// Runs `f` for about `budget`, returns nanoseconds per call (best of 5 rounds).
fn measure(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut iterations = 1u64;
    loop {
        let start = Instant::now();
        (0..iterations).for_each(|_| f());
        if start.elapsed() > budget / 10 {
            break;
        }
        iterations *= 2;
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            (0..iterations).for_each(|_| f());
            start.elapsed().as_nanos() as f64 / iterations as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let map = FieldMap::default();
    let (accounts, rates) = organisation();
    let live = XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) };
    let text = record("Sales").to_string();
    let valid = CrmProduct::from_json(&record("Sales"), &map).expect("record");
    let typo = CrmProduct::from_json(&record("Salse"), &map).expect("record");
    let budget = Duration::from_millis(400);

    let parse = measure(budget, || {
        let value: Value = serde_json::from_str(black_box(&text)).expect("json");
        black_box(CrmProduct::from_json(&value, &map).expect("record"));
    });
    let cases = [
        (
            "validate, no Xero lists (before the lists arrive)",
            measure(budget, || {
                black_box(validate(black_box(&valid), &map, XeroContext::NONE));
            }),
        ),
        (
            "validate, live lists, valid product",
            measure(budget, || {
                black_box(validate(black_box(&valid), &map, live));
            }),
        ),
        (
            "validate, live lists, mistyped account (suggestions)",
            measure(budget, || {
                black_box(validate(black_box(&typo), &map, live));
            }),
        ),
        (
            "validate + payload + content hash",
            measure(budget, || {
                let report = validate(black_box(&valid), &map, live);
                black_box(report.payload(&valid).map(|p| p.content_hash()));
            }),
        ),
    ];
    println!("{:<55} {:>12} {:>16}", "case", "ns/call", "x parse record");
    println!("{:<55} {:>12.0} {:>16.2}", "parse record from JSON (baseline)", parse, 1.0);
    for (name, ns) in cases {
        println!("{name:<55} {ns:>12.0} {:>16.2}", ns / parse);
    }
}
