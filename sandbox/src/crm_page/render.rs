//! HTML of the emulated CRM pages, styled after Zoho CRM's record detail view.

use serde_json::Value;

use super::ORG_PATH;
use crate::zoho::CustomFields;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A field value as CRM displays it.
fn display(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".into(),
        Some(Value::Bool(true)) => "✔".into(),
        Some(Value::Bool(false)) => "✘".into(),
        Some(Value::String(s)) if s.is_empty() => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "—".into(),
        Some(Value::Array(items)) => {
            items.iter().map(|i| display(i.get("value").or(Some(i)))).collect::<Vec<_>>().join(", ")
        }
        Some(Value::Object(o)) => display(o.get("name")),
        Some(other) => other.to_string(),
    }
}

const STYLE: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.5 "Lato", "Segoe UI", Arial, sans-serif; color: #313949; background: #f4f6f9; }
.topbar { display: flex; align-items: center; gap: 22px; height: 48px; padding: 0 18px; background: #313949; color: #fff; }
.topbar .logo { font-weight: 700; font-size: 16px; letter-spacing: .3px; }
.topbar .logo span { color: #f0483e; }
.topbar nav a { color: #c8cdd6; text-decoration: none; margin-right: 18px; }
.topbar nav a.active { color: #fff; border-bottom: 2px solid #f0483e; padding-bottom: 12px; }
.record-head { display: flex; align-items: center; justify-content: space-between; padding: 14px 24px; background: #fff; border-bottom: 1px solid #e1e4ea; }
.record-head h1 { margin: 0; font-size: 20px; font-weight: 600; }
.record-head .sub { color: #6e7687; font-size: 12px; }
.actions button { margin-left: 8px; padding: 6px 14px; border: 1px solid #c9cfda; border-radius: 3px; background: #fff; color: #313949; cursor: pointer; font: inherit; }
.actions button.primary { background: #1a73e8; border-color: #1a73e8; color: #fff; }
main { display: flex; gap: 18px; padding: 18px 24px; }
aside { width: 200px; color: #6e7687; }
aside a { display: block; padding: 6px 0; color: #1a73e8; text-decoration: none; }
section.card { flex: 1; background: #fff; border: 1px solid #e1e4ea; border-radius: 4px; padding: 16px 22px; }
section.card h2 { font-size: 15px; margin: 4px 0 14px; }
dl.fields { display: grid; grid-template-columns: 170px 1fr 170px 1fr; gap: 10px 14px; margin: 0 0 18px; }
dl.fields dt { color: #6e7687; text-align: right; }
dl.fields dd { margin: 0; word-break: break-word; }
table.list { width: 100%; border-collapse: collapse; background: #fff; }
table.list th, table.list td { text-align: left; padding: 8px 12px; border-bottom: 1px solid #e1e4ea; }
table.list th { background: #f0f2f6; font-weight: 600; }
.crm-popup-overlay { position: fixed; inset: 0; background: rgba(20, 26, 38, .45); display: flex; align-items: center; justify-content: center; }
.crm-popup { background: #fff; border-radius: 4px; box-shadow: 0 8px 30px rgba(0,0,0,.3); }
.crm-popup-head { display: flex; justify-content: space-between; align-items: center; padding: 10px 14px; border-bottom: 1px solid #e1e4ea; font-weight: 600; }
.crm-popup-close { border: 0; background: none; font-size: 20px; cursor: pointer; color: #6e7687; }
.crm-popup iframe { display: block; border: 0; }
.crm-toast { position: fixed; top: 60px; right: 24px; padding: 10px 16px; border-radius: 4px; background: #313949; color: #fff; }
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Zoho CRM (sandbox)</title>
<style>{STYLE}</style></head>
<body>
<header class="topbar"><div class="logo">Zoho <span>CRM</span> · sandbox</div>
<nav><a href="/">Home</a><a>Leads</a><a>Contacts</a><a>Accounts</a><a>Deals</a><a class="active" href="/">Products</a><a>Quotes</a></nav></header>
{body}
</body></html>"#,
        title = escape(title)
    )
}

/// `/`: the seeded products with links to their record pages.
pub(super) fn index(products: &[Value]) -> String {
    let rows: String = products
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap_or_default();
            format!(
                r#"<tr><td><a href="/crm/{ORG_PATH}/tab/Products/{id}">{name}</a></td><td>{code}</td><td>{price}</td><td>{id}</td></tr>"#,
                id = escape(id),
                name = escape(&display(p.get("Product_Name"))),
                code = escape(&display(p.get("Product_Code"))),
                price = escape(&display(p.get("Unit_Price"))),
            )
        })
        .collect();
    page(
        "Products",
        &format!(
            r#"<main><section class="card"><h2>All Products</h2>
<table class="list"><thead><tr><th>Product Name</th><th>Product Code</th><th>Unit Price</th><th>Record id</th></tr></thead>
<tbody>{rows}</tbody></table></section></main>"#
        ),
    )
}

/// The record detail page with the "Sync to Xero" button.
pub(super) fn record(record: &Value, widget_url: Option<&str>, custom: &CustomFields) -> String {
    let id = record["id"].as_str().unwrap_or_default();
    let field = |label: &str, name: &str| {
        format!(
            r#"<dt>{}</dt><dd data-field="{}">{}</dd>"#,
            escape(label),
            escape(name),
            escape(&display(record.get(name)))
        )
    };
    let info = [
        field("Product Owner", "Owner"),
        field("Product Name", "Product_Name"),
        field("Product Code", "Product_Code"),
        field("Product Active", "Product_Active"),
        field("Product Category", "Product_Category"),
        field("Unit Price (A$)", "Unit_Price"),
        field("Taxable", "Taxable"),
        field("Tax", "Tax"),
        field("Qty in Stock", "Qty_in_Stock"),
        field("Usage Unit", "Usage_Unit"),
        field("Created By", "Created_By"),
        field("Created Time", "Created_Time"),
        field("Modified By", "Modified_By"),
        field("Modified Time", "Modified_Time"),
    ]
    .concat();
    let xero = [
        field("Add to Xero", &custom.add_to_xero),
        field("Xero GL Account", &custom.gl_account),
        field("Xero Tax Rate", &custom.tax_rate),
        field("Xero Item ID", &custom.item_id),
        field("Xero Last Synced", &custom.last_synced),
        field("Xero Sync Status", &custom.sync_status),
    ]
    .concat();
    let description = field("Description", "Description");
    // Read by crm_host.js; `<` is escaped so the JSON cannot close the script element.
    let config = serde_json::json!({"recordId": id, "widgetUrl": widget_url}).to_string().replace('<', "\\u003c");
    let name = display(record.get("Product_Name"));
    page(
        &name,
        &format!(
            r#"<div class="record-head"><div><div class="sub">Products</div><h1 id="record-name">{name}</h1>
<div class="sub">Record id {id}</div></div>
<div class="actions"><button type="button">Send Email</button><button type="button">Edit</button>
<button type="button" class="primary" id="sync-to-xero">Sync to Xero</button></div></div>
<main><aside><a href="/">← All Products</a><a>Notes</a><a>Attachments</a><a>Price Books</a></aside>
<section class="card"><h2>Product Information</h2><dl class="fields">{info}</dl>
<h2>Xero</h2><dl class="fields">{xero}</dl>
<h2>Description Information</h2><dl class="fields">{description}</dl></section></main>
<script id="crm-config" type="application/json">{config}</script>
<script src="/crm-host/host.js"></script>"#,
            name = escape(&name),
            id = escape(id),
        ),
    )
}

pub(super) fn not_found(id: &str) -> String {
    page(
        "Record not found",
        &format!(
            r#"<main><section class="card"><h2>Record not found</h2><p>No product has the id {}.</p>
<p><a href="/">All Products</a></p></section></main>"#,
            escape(id)
        ),
    )
}
