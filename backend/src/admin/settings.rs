//! `/admin/settings`: the organisation's defaults (issue 14), pre-filled for the admin to confirm, every
//! change checked with a message on its field, and the audit trail of settings changes (who, when,
//! old → new), which later settings join.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use shared::FieldMap;

use super::AdminState;
use super::auth::{Admin, AdminForm};
use super::page::{Failure, Nav, form, layout_at, respond, time};
use crate::defaults::{ChangeError, DefaultsForm, DefaultsPage, FormError, TaxRow, XeroLists, account_label};
use crate::field_names::role_keys;
use crate::store::{
    CrmFieldNames, DailyReservePercent, DefaultGlAccount, LogRetentionDays, MAX_DAILY_RESERVE_PERCENT,
    MAX_LOG_RETENTION_DAYS, OrgSetting, SettingChange, TaxMappings,
};

/// The most CRM taxes a form is read for (Zoho allows far fewer pick-list values on `Tax`).
const MAX_TAX_ROWS: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub(super) struct Shown {
    /// Set after a save: how many settings changed.
    saved: Option<usize>,
}

/// `GET /admin/settings`
pub(super) async fn show(
    State(state): State<AdminState>,
    admin: Admin,
    Query(shown): Query<Shown>,
) -> Result<Response, Failure> {
    let page = state.defaults.page().await.map_err(|e| Failure::internal(state.mode, &e))?;
    let notice = shown.saved.map(|n| match n {
        0 => "Nothing changed.".to_owned(),
        1 => "Saved: 1 setting changed (see the changes below).".to_owned(),
        n => format!("Saved: {n} settings changed (see the changes below)."),
    });
    let submitted = Submitted::stored(&page);
    let forms = Forms::stored(&state).await?;
    let body = body(admin.csrf(), &page, &submitted, &[], notice.as_deref(), &forms);
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Settings), "Settings", Some(admin.csrf()), body)))
}

/// `POST /admin/settings`: checks the change against Xero's lists as they are now, then stores and audits
/// it; a refused value comes back on its field, with what was typed kept.
pub(super) async fn save(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let asked = read_form(&form);
    let by = form.admin.who();
    let errors = match state.defaults.change(&asked, &by).await {
        Ok(changed) => return Ok(Redirect::to(&format!("/admin/settings?saved={}", changed.len())).into_response()),
        Err(ChangeError::Invalid(errors)) => errors,
        Err(ChangeError::Unavailable(message)) => vec![FormError { field: String::new(), message }],
        Err(ChangeError::Store(error)) => return Err(Failure::internal(state.mode, &error)),
    };
    let page = state.defaults.page().await.map_err(|e| Failure::internal(state.mode, &e))?;
    let submitted = Submitted::from_form(&asked, &page);
    let forms = Forms::stored(&state).await?;
    let body = body(form.admin.csrf(), &page, &submitted, &errors, None, &forms);
    Ok(respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout_at(state.mode, Some(Nav::Settings), "Settings", Some(form.admin.csrf()), body),
    ))
}

/// The form's fields: `gl_account`, and `crm_tax_{i}` with `tax_type_{i}` for each row.
fn read_form(form: &AdminForm) -> DefaultsForm {
    let taxes = (0..MAX_TAX_ROWS)
        .map_while(|i| {
            let crm_tax = form.field(&format!("crm_tax_{i}"))?;
            Some((crm_tax.to_owned(), form.field(&format!("tax_type_{i}")).unwrap_or_default().to_owned()))
        })
        .collect();
    DefaultsForm { gl_account: form.field("gl_account").unwrap_or_default().to_owned(), taxes }
}

/// What the form shows: the stored (or proposed) values, or what the admin just submitted.
struct Submitted {
    gl_account: String,
    rows: Vec<TaxRow>,
}

impl Submitted {
    fn stored(page: &DefaultsPage) -> Self {
        let gl_account = page.stored.gl_account().map(|code| account_text(page, code)).unwrap_or_default();
        Self { gl_account, rows: page.rows.clone() }
    }

    fn from_form(asked: &DefaultsForm, page: &DefaultsPage) -> Self {
        let rows = asked
            .taxes
            .iter()
            .map(|(crm_tax, tax_type)| {
                let stored = page.stored.tax_type_for(crm_tax).map(str::to_owned);
                let tax_type = Some(tax_type.trim().to_owned()).filter(|t| !t.is_empty());
                let proposed = tax_type.is_some() && stored.is_none();
                TaxRow { crm_tax: crm_tax.clone(), tax_type, proposed }
            })
            .collect();
        Self { gl_account: asked.gl_account.clone(), rows }
    }
}

/// "Sales (200)" for a stored code, when the chart has it.
fn account_text(page: &DefaultsPage, code: &str) -> String {
    let lists = page.lists.as_ref().ok();
    let account = lists.and_then(|l| l.accounts.iter().find(|a| a.usable_code() == Some(code)));
    account.map_or_else(|| code.to_owned(), account_label)
}

fn error_on<'a>(errors: &'a [FormError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
}

/// The forms of the service's own settings, each stored or as typed with the reason it was refused.
struct Forms {
    fields: FieldSettings,
    runs: RunSettings,
    log: LogSettings,
}

impl Forms {
    async fn stored(state: &AdminState) -> Result<Self, Failure> {
        Ok(Self {
            fields: FieldSettings::stored(state).await?,
            runs: RunSettings::stored(state).await?,
            log: LogSettings::stored(state).await?,
        })
    }
}

/// The CRM field API names as the form shows them: the admin's (empty where the default applies), or as
/// typed with the reasons they were refused.
struct FieldSettings {
    /// By role key.
    names: std::collections::BTreeMap<String, String>,
    /// The `XERO_SYNC_FIELD_*` variables' names.
    defaults: FieldMap,
    errors: Vec<FormError>,
}

impl FieldSettings {
    async fn stored(state: &AdminState) -> Result<Self, Failure> {
        let names = state.fields.overrides().await.map_err(|e| Failure::internal(state.mode, &e))?;
        Ok(Self { names, defaults: state.fields.defaults().clone(), errors: Vec::new() })
    }
}

/// `POST /admin/settings/fields`: the CRM field API names, checked against the CRM's Products fields (as
/// the dashboard's check reads them), stored, audited and in force from the next sync, run or request.
pub(super) async fn save_fields(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let typed: std::collections::BTreeMap<String, String> = role_keys()
        .into_iter()
        .map(|key| (key.to_owned(), form.field(&format!("field_{key}")).unwrap_or_default().to_owned()))
        .collect();
    let errors = match state.fields.change(&typed, &form.admin.who()).await {
        Ok(changed) => {
            return Ok(Redirect::to(&format!("/admin/settings?saved={}", usize::from(changed))).into_response());
        }
        Err(ChangeError::Invalid(errors)) => errors,
        Err(ChangeError::Unavailable(message)) => vec![FormError { field: String::new(), message }],
        Err(ChangeError::Store(error)) => return Err(Failure::internal(state.mode, &error)),
    };
    let mut forms = Forms::stored(&state).await?;
    forms.fields.names = typed;
    forms.fields.errors = errors;
    refused(&state, &form, forms).await
}

fn fields_form(csrf: &str, fields: &FieldSettings) -> Markup {
    let errors = &fields.errors;
    let defaults = fields.defaults.custom_fields();
    form(
        csrf,
        "/admin/settings/fields",
        html! {
            @if !errors.is_empty() {
                p.warn role="alert" {
                    @match error_on(errors, "") {
                        Some(message) => (message),
                        None => "Nothing was saved: correct the fields marked below.",
                    }
                }
            }
            @for (key, ((label, default), variable)) in role_keys().into_iter().zip(defaults.into_iter().zip(crate::config::FIELD_VARIABLES)) {
                @let id = format!("field_{key}");
                @let error = error_on(errors, &id);
                p {
                    label for=(id) { (label) } br;
                    input type="text" id=(id) name=(id) value=(fields.names.get(key).map(String::as_str).unwrap_or_default())
                        placeholder=(default) autocomplete="off" spellcheck="false"
                        aria-invalid=[error.map(|_| "true")] aria-describedby={ (id) "-help" @if error.is_some() { " " (id) "-error" } };
                    br; span.muted id={ (id) "-help" } { "Empty: " code { (default) } " (" code { (variable) } ")." }
                    @if let Some(message) = error {
                        br; span.warn id={ (id) "-error" } { (message) }
                    }
                }
            }
            p.muted {
                "The API names of the custom fields of the CRM's Products module (Setup → Modules and Fields). Each is "
                "checked against the CRM's fields when saved; the next sync, bulk run and widget use them."
            }
            p { button type="submit" { "Save the CRM fields" } }
        },
    )
}

/// The settings page answering a refused value: 422, every form as stored but the one refused.
async fn refused(state: &AdminState, form: &AdminForm, forms: Forms) -> Result<Response, Failure> {
    let page = state.defaults.page().await.map_err(|e| Failure::internal(state.mode, &e))?;
    let submitted = Submitted::stored(&page);
    let csrf = form.admin.csrf();
    let body = body(csrf, &page, &submitted, &[], None, &forms);
    Ok(respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout_at(state.mode, Some(Nav::Settings), "Settings", Some(csrf), body),
    ))
}

/// The bulk runs' settings as the form shows them: stored, or as typed with the reason it was refused.
struct RunSettings {
    /// What the field shows: the stored percent, empty for the service's default, or what was typed.
    reserve: String,
    /// `XERO_SYNC_DAILY_RESERVE_PERCENT`.
    default_reserve: u8,
    error: Option<String>,
}

impl RunSettings {
    async fn stored(state: &AdminState) -> Result<Self, Failure> {
        let reserve =
            state.store.org_setting::<DailyReservePercent>().await.map_err(|e| Failure::internal(state.mode, &e))?;
        Ok(Self {
            reserve: reserve.map(|p| p.to_string()).unwrap_or_default(),
            default_reserve: state.runs.default_reserve_percent(),
            error: None,
        })
    }
}

/// The reserve as typed: empty for the service's default, else a whole percent from 0 to the maximum.
fn parse_reserve(text: &str) -> Result<Option<u8>, String> {
    let text = text.trim().trim_end_matches('%').trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u8>() {
        Ok(percent) if percent <= MAX_DAILY_RESERVE_PERCENT => Ok(Some(percent)),
        _ => Err(format!(
            "Give a whole percent from 0 to {MAX_DAILY_RESERVE_PERCENT}, or leave it empty for the service's default."
        )),
    }
}

/// `POST /admin/settings/runs`: the bulk runs' settings, checked, stored and audited.
pub(super) async fn save_runs(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let typed = form.field("daily_reserve_percent").unwrap_or_default();
    match parse_reserve(typed) {
        Ok(reserve) => {
            let internal = |e: crate::store::StoreError| Failure::internal(state.mode, &e);
            let changed = state
                .store
                .set_org_setting::<DailyReservePercent>(&reserve, &form.admin.who())
                .await
                .map_err(internal)?;
            state.runs.refresh_reserve().await.map_err(internal)?;
            Ok(Redirect::to(&format!("/admin/settings?saved={}", usize::from(changed))).into_response())
        }
        Err(message) => {
            let mut forms = Forms::stored(&state).await?;
            forms.runs.reserve = typed.to_owned();
            forms.runs.error = Some(message);
            refused(&state, &form, forms).await
        }
    }
}

/// The sync log's settings as the form shows them.
struct LogSettings {
    /// What the field shows: the stored days, empty for the service's default, or what was typed.
    days: String,
    /// `XERO_SYNC_LOG_RETENTION_DAYS`.
    default_days: u32,
    error: Option<String>,
}

impl LogSettings {
    async fn stored(state: &AdminState) -> Result<Self, Failure> {
        let days =
            state.store.org_setting::<LogRetentionDays>().await.map_err(|e| Failure::internal(state.mode, &e))?;
        Ok(Self {
            days: days.map(|d| d.to_string()).unwrap_or_default(),
            default_days: state.retention.default_days(),
            error: None,
        })
    }
}

/// The retention as typed: empty for the service's default, else whole days from 1 to the maximum.
fn parse_retention(text: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(days) if (1..=MAX_LOG_RETENTION_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(format!(
            "Give a whole number of days from 1 to {MAX_LOG_RETENTION_DAYS}, or leave it empty for the service's default."
        )),
    }
}

/// `POST /admin/settings/log`: the sync log's retention, checked, stored and audited; a pass runs at once.
pub(super) async fn save_log(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let typed = form.field("log_retention_days").unwrap_or_default();
    match parse_retention(typed) {
        Ok(days) => {
            let changed = state
                .store
                .set_org_setting::<LogRetentionDays>(&days, &form.admin.who())
                .await
                .map_err(|e| Failure::internal(state.mode, &e))?;
            if changed {
                state.retention.wake();
            }
            Ok(Redirect::to(&format!("/admin/settings?saved={}", usize::from(changed))).into_response())
        }
        Err(message) => {
            let mut forms = Forms::stored(&state).await?;
            forms.log.days = typed.to_owned();
            forms.log.error = Some(message);
            refused(&state, &form, forms).await
        }
    }
}

fn log_form(csrf: &str, log: &LogSettings) -> Markup {
    let error = log.error.as_deref();
    form(
        csrf,
        "/admin/settings/log",
        html! {
            @if error.is_some() {
                p.warn role="alert" { "Nothing was saved: correct the field marked below." }
            }
            p {
                label for="log_retention_days" { "Days the sync log keeps a finished row" } br;
                input type="number" id="log_retention_days" name="log_retention_days" min="1"
                    max=(MAX_LOG_RETENTION_DAYS) value=(log.days) placeholder=(log.default_days)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "log_retention_days-error")];
                @if let Some(message) = error {
                    br; span.warn id="log_retention_days-error" { (message) }
                }
            }
            p.muted {
                "Older rows are deleted once a day, and at once after a change. Empty: the service's default, "
                (log.default_days) " days (" code { "XERO_SYNC_LOG_RETENTION_DAYS" } ")."
            }
            p { button type="submit" { "Save the sync log settings" } }
        },
    )
}

fn runs_form(csrf: &str, runs: &RunSettings) -> Markup {
    let error = runs.error.as_deref();
    form(
        csrf,
        "/admin/settings/runs",
        html! {
            @if error.is_some() {
                p.warn role="alert" { "Nothing was saved: correct the field marked below." }
            }
            p {
                label for="daily_reserve_percent" { "Xero daily calls kept for the button (%)" } br;
                input type="number" id="daily_reserve_percent" name="daily_reserve_percent" min="0"
                    max=(MAX_DAILY_RESERVE_PERCENT) value=(runs.reserve) placeholder=(runs.default_reserve)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "daily_reserve_percent-error")];
                @if let Some(message) = error {
                    br; span.warn id="daily_reserve_percent-error" { (message) }
                }
            }
            p.muted {
                "A bulk run pauses when Xero's calls left today reach this share of the day's limit, so the button in "
                "the CRM keeps working; it resumes by itself after Xero's day resets. Empty: the service's default, "
                (runs.default_reserve) " % (" code { "XERO_SYNC_DAILY_RESERVE_PERCENT" } ")."
            }
            p { button type="submit" { "Save the bulk sync settings" } }
        },
    )
}

fn body(
    csrf: &str,
    page: &DefaultsPage,
    submitted: &Submitted,
    errors: &[FormError],
    notice: Option<&str>,
    forms: &Forms,
) -> Markup {
    html! {
        @if let Some(notice) = notice {
            p.ok role="status" { (notice) }
        }
        @if !errors.is_empty() {
            p.warn role="alert" {
                @match error_on(errors, "") {
                    Some(message) => (message),
                    None => "Nothing was saved: correct the fields marked below.",
                }
            }
        }
        section aria-labelledby="defaults-h" {
            h2 id="defaults-h" { "Organisation defaults" }
            p.muted {
                "A product whose Xero GL Account is empty is posted to the default account; one whose Xero Tax Rate "
                "is empty gets the rate its CRM tax maps to. A value typed on a product always wins."
            }
            @match &page.lists {
                Err(message) => p.warn { (message) },
                Ok(lists) => (defaults_form(csrf, page, lists, submitted, errors)),
            }
        }
        section aria-labelledby="fields-h" {
            h2 id="fields-h" { "CRM fields" }
            (fields_form(csrf, &forms.fields))
        }
        section aria-labelledby="runs-h" {
            h2 id="runs-h" { "Bulk sync" }
            (runs_form(csrf, &forms.runs))
        }
        section aria-labelledby="log-h" {
            h2 id="log-h" { "Sync log" }
            (log_form(csrf, &forms.log))
        }
        section aria-labelledby="audit-h" {
            h2 id="audit-h" { "Changes to the settings" }
            (audit(page))
        }
    }
}

fn defaults_form(
    csrf: &str,
    page: &DefaultsPage,
    lists: &XeroLists,
    submitted: &Submitted,
    errors: &[FormError],
) -> Markup {
    let revenue = lists.accounts.iter().filter(|a| a.is_selectable() && a.is_revenue());
    let rates: Vec<_> = lists.tax_rates.iter().filter(|r| r.is_selectable()).collect();
    let gl_error = error_on(errors, "gl_account");
    form(
        csrf,
        "/admin/settings",
        html! {
            p {
                label for="gl_account" { "Default GL account" } br;
                input type="text" id="gl_account" name="gl_account" value=(submitted.gl_account)
                    list="revenue-accounts" autocomplete="off" aria-invalid=[gl_error.map(|_| "true")]
                    aria-describedby=[gl_error.map(|_| "gl_account-error")];
                datalist id="revenue-accounts" {
                    @for account in revenue {
                        option value=(account_label(account)) {}
                    }
                }
                @if let Some(message) = gl_error {
                    br; span.warn id="gl_account-error" { (message) }
                }
            }
            p.muted { "One of the organisation's active revenue accounts, by name or code. Empty: no default." }
            h3 { "CRM taxes to Xero tax rates" }
            @if let Some(why) = &page.crm_taxes_error {
                p.warn { "The CRM's taxes could not be read (" (why) "); the saved mapping is shown." }
            }
            @if submitted.rows.is_empty() {
                p { "The CRM lists no taxes." }
            } @else {
                table.mapping {
                    thead { tr { th scope="col" { "CRM tax" } th scope="col" { "Xero tax rate" } th scope="col" { "" } } }
                    tbody {
                        @for (i, row) in submitted.rows.iter().enumerate() {
                            @let field = format!("tax_type_{i}");
                            @let error = error_on(errors, &field);
                            tr {
                                td {
                                    label for=(field) { (row.crm_tax) }
                                    input type="hidden" name={ "crm_tax_" (i) } value=(row.crm_tax);
                                }
                                td {
                                    select id=(field) name=(field) aria-invalid=[error.map(|_| "true")] {
                                        option value="" selected[row.tax_type.is_none()] { "(not mapped)" }
                                        @for rate in &rates {
                                            @let chosen = row.tax_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(&rate.tax_type));
                                            option value=(rate.tax_type) selected[chosen] { (rate.name) " (" (rate.tax_type) ")" }
                                        }
                                    }
                                    @if let Some(message) = error {
                                        br; span.warn { (message) }
                                    }
                                }
                                td.muted {
                                    @if row.proposed { "proposed: saving confirms it" }
                                    @else if row.tax_type.is_none() { "not mapped" }
                                    @else { "saved" }
                                }
                            }
                        }
                    }
                }
            }
            @if !page.stale.is_empty() {
                p.warn {
                    "The CRM no longer lists "
                    (page.stale.iter().map(|m| format!("{} (mapped to {})", m.crm_tax, m.tax_type)).collect::<Vec<_>>().join(", "))
                    "; saving removes their mapping."
                }
            }
            @if !page.unmapped.is_empty() {
                p.warn {
                    "No Xero tax rate was found for " (page.unmapped.join(", "))
                    ". Choose one, or leave it unmapped: products with that tax then need a Xero Tax Rate of their own."
                }
            }
            p { button type="submit" { "Save the defaults" } }
        },
    )
}

/// A setting's value in the audit trail, as the admin reads it.
fn value_text(key: &str, value: Option<&Value>, page: &DefaultsPage) -> String {
    let none = "(none)".to_owned();
    let Some(value) = value else { return none };
    match key {
        DefaultGlAccount::KEY => value.as_str().map_or(none, |code| account_text(page, code)),
        TaxMappings::KEY => {
            let pairs: Vec<String> = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| Some(format!("{} → {}", m["crm_tax"].as_str()?, m["tax_type"].as_str()?)))
                .collect();
            if pairs.is_empty() { none } else { pairs.join("; ") }
        }
        DailyReservePercent::KEY => match value.as_u64() {
            Some(percent) => format!("{percent} %"),
            None => "(the service's default)".to_owned(),
        },
        CrmFieldNames::KEY => {
            let names: std::collections::BTreeMap<String, String> =
                serde_json::from_value(value.clone()).unwrap_or_default();
            if names.is_empty() {
                return "(the service's defaults)".to_owned();
            }
            let labels = FieldMap::default().custom_fields().map(|(label, _)| label);
            role_keys()
                .into_iter()
                .zip(labels)
                .filter_map(|(key, label)| Some(format!("{label}: {}", names.get(key)?)))
                .collect::<Vec<_>>()
                .join("; ")
        }
        LogRetentionDays::KEY => match value.as_u64() {
            Some(1) => "1 day".to_owned(),
            Some(days) => format!("{days} days"),
            None => "(the service's default)".to_owned(),
        },
        _ => value.to_string(),
    }
}

fn setting_label(key: &str) -> &str {
    match key {
        DefaultGlAccount::KEY => DefaultGlAccount::LABEL,
        TaxMappings::KEY => TaxMappings::LABEL,
        DailyReservePercent::KEY => DailyReservePercent::LABEL,
        LogRetentionDays::KEY => LogRetentionDays::LABEL,
        CrmFieldNames::KEY => CrmFieldNames::LABEL,
        other => other,
    }
}

fn audit(page: &DefaultsPage) -> Markup {
    if page.audit.is_empty() {
        return html! { p { "No setting has been changed yet." } };
    }
    let row = |change: &SettingChange| {
        html! {
            tr {
                td { (time(change.at)) }
                td { (change.by) }
                td { (setting_label(&change.key)) }
                td { (value_text(&change.key, change.old.as_ref(), page)) }
                td { (value_text(&change.key, Some(&change.new), page)) }
            }
        }
    };
    html! {
        table.audit {
            thead {
                tr { @for heading in ["When", "Who", "Setting", "Before", "After"] { th scope="col" { (heading) } } }
            }
            tbody { @for change in &page.audit { (row(change)) } }
        }
    }
}
