//! The organisations the simulator starts with: charts of accounts and tax rates shaped like Xero's AU and UK
//! demo companies, with the awkward cases a sync meets (archived and code-less accounts, deleted and
//! expense-only tax rates).
//!
//! The Zoho simulator seeds products whose GL account is "Sales" and tax rate "GST on Income" for the AU
//! organisation; keep those names.

use serde_json::{Value, json};
use uuid::Uuid;

use super::accounting::Item;
use super::time::{EpochMs, ms_date};

/// One Xero organisation (a tenant).
#[derive(Debug, Clone)]
pub struct Org {
    pub tenant_id: String,
    pub name: String,
    pub accounts: Vec<Account>,
    pub tax_rates: Vec<TaxRate>,
    pub items: Vec<Item>,
}

impl Org {
    /// The ACTIVE account with this code (codes are compared case-insensitively, as Xero does).
    pub fn active_account(&self, code: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.status == "ACTIVE" && a.code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(code)))
    }

    /// The ACTIVE tax rate with this TaxType code.
    pub fn active_tax_rate(&self, tax_type: &str) -> Option<&TaxRate> {
        self.tax_rates.iter().find(|r| r.status == "ACTIVE" && r.tax_type.eq_ignore_ascii_case(tax_type))
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub account_id: String,
    /// Absent on some system accounts.
    pub code: Option<String>,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub tax_type: &'static str,
    pub description: Option<&'static str>,
    pub system_account: Option<&'static str>,
    pub currency: String,
    pub updated_ms: EpochMs,
}

impl Account {
    /// The `Class` Xero derives from the account `Type`.
    pub fn class(&self) -> &'static str {
        match self.kind {
            "BANK" | "CURRENT" | "FIXED" | "INVENTORY" | "NONCURRENT" | "PREPAYMENT" => "ASSET",
            "CURRLIAB" | "LIABILITY" | "TERMLIAB" | "PAYG" => "LIABILITY",
            "EQUITY" => "EQUITY",
            "REVENUE" | "SALES" | "OTHERINCOME" => "REVENUE",
            _ => "EXPENSE",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "AccountID": self.account_id,
            "Name": self.name,
            "Status": self.status,
            "Type": self.kind,
            "TaxType": self.tax_type,
            "Class": self.class(),
            "EnablePaymentsToAccount": false,
            "ShowInExpenseClaims": self.class() == "EXPENSE",
            "ReportingCode": reporting_code(self.kind),
            "ReportingCodeName": reporting_code(self.kind),
            "HasAttachments": false,
            "UpdatedDateUTC": ms_date(self.updated_ms),
            "AddToWatchlist": false,
        });
        if let Some(code) = &self.code {
            v["Code"] = json!(code);
        }
        if let Some(d) = self.description {
            v["Description"] = json!(d);
        }
        if let Some(s) = self.system_account {
            v["SystemAccount"] = json!(s);
        }
        if self.kind == "BANK" {
            v["BankAccountNumber"] = json!("062021987654321");
            v["BankAccountType"] = json!("BANK");
            v["CurrencyCode"] = json!(self.currency);
            v["EnablePaymentsToAccount"] = json!(true);
        }
        v
    }
}

fn reporting_code(kind: &str) -> &'static str {
    match kind {
        "REVENUE" | "SALES" => "REV.TRA",
        "OTHERINCOME" => "REV.OTH",
        "DIRECTCOSTS" => "EXP.COS",
        "OVERHEADS" | "EXPENSE" => "EXP",
        "BANK" => "ASS.CUR.CAS.CAS",
        "CURRENT" => "ASS.CUR.REC",
        "INVENTORY" => "ASS.CUR.INY",
        "CURRLIAB" => "LIA.CUR",
        "EQUITY" => "EQU",
        _ => "ASS",
    }
}

#[derive(Debug, Clone)]
pub struct TaxRate {
    pub name: &'static str,
    pub tax_type: &'static str,
    pub report_tax_type: &'static str,
    pub rate: f64,
    pub status: &'static str,
    pub revenue: bool,
    pub expenses: bool,
    pub assets: bool,
    pub liabilities: bool,
    pub equity: bool,
    pub component: &'static str,
}

impl TaxRate {
    /// Whether Xero lets this rate be used on an account of `class`.
    pub fn applies_to(&self, class: &str) -> bool {
        match class {
            "REVENUE" => self.revenue,
            "EXPENSE" => self.expenses,
            "ASSET" => self.assets,
            "LIABILITY" => self.liabilities,
            _ => self.equity,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "Name": self.name,
            "TaxType": self.tax_type,
            "ReportTaxType": self.report_tax_type,
            "CanApplyToAssets": self.assets,
            "CanApplyToEquity": self.equity,
            "CanApplyToExpenses": self.expenses,
            "CanApplyToLiabilities": self.liabilities,
            "CanApplyToRevenue": self.revenue,
            "DisplayTaxRate": self.rate,
            "EffectiveRate": self.rate,
            "Status": self.status,
            "TaxComponents": [{
                "Name": self.component,
                "Rate": self.rate,
                "IsCompound": false,
                "IsNonRecoverable": false,
            }],
        })
    }
}

/// Where a rate may be used: (revenue, expenses, assets, liabilities, equity).
type Applies = (bool, bool, bool, bool, bool);
const INCOME: Applies = (true, false, true, true, true);
const EXPENSE: Applies = (false, true, true, true, true);
const ANY: Applies = (true, true, true, true, true);

fn rate(
    name: &'static str,
    tax_type: &'static str,
    report: &'static str,
    rate: f64,
    status: &'static str,
    applies: Applies,
    component: &'static str,
) -> TaxRate {
    let (revenue, expenses, assets, liabilities, equity) = applies;
    TaxRate {
        name,
        tax_type,
        report_tax_type: report,
        rate,
        status,
        revenue,
        expenses,
        assets,
        liabilities,
        equity,
        component,
    }
}

/// (code, name, type, status, tax type, system account, description)
type AccountRow = (
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

fn org(name: &str, currency: &str, rows: &[AccountRow], tax_rates: Vec<TaxRate>, now: EpochMs) -> Org {
    let accounts = rows
        .iter()
        .map(|&(code, name, kind, status, tax_type, system_account, description)| Account {
            account_id: Uuid::new_v4().to_string(),
            code: code.map(str::to_string),
            name: name.to_string(),
            kind,
            status,
            tax_type,
            description,
            system_account,
            currency: currency.to_string(),
            updated_ms: now,
        })
        .collect();
    Org { tenant_id: Uuid::new_v4().to_string(), name: name.to_string(), accounts, tax_rates, items: Vec::new() }
}

/// Name of the Australian demo organisation.
pub const AU_ORG: &str = "Demo Company (AU)";
/// Name of the UK demo organisation.
pub const UK_ORG: &str = "Demo Company (UK)";

/// Xero's AU demo company, trimmed to what an Items sync touches.
pub fn australia(now: EpochMs) -> Org {
    let rows: &[AccountRow] = &[
        (Some("090"), "Business Bank Account", "BANK", "ACTIVE", "BASEXCLUDED", None, None),
        (Some("200"), "Sales", "REVENUE", "ACTIVE", "OUTPUT", None, Some("Income from any normal business activity")),
        (Some("210"), "Old Sales", "REVENUE", "ARCHIVED", "OUTPUT", None, Some("Sales before the 2019 restructure")),
        (
            Some("260"),
            "Other Revenue",
            "OTHERINCOME",
            "ACTIVE",
            "OUTPUT",
            None,
            Some("Any other income that does not relate to normal business activities and is not recurring"),
        ),
        (Some("270"), "Interest Income", "OTHERINCOME", "ACTIVE", "EXEMPTOUTPUT", None, Some("Interest income")),
        (Some("310"), "Cost of Goods Sold", "DIRECTCOSTS", "ACTIVE", "INPUT", None, None),
        (Some("400"), "Advertising", "OVERHEADS", "ACTIVE", "INPUT", None, None),
        (Some("404"), "Bank Fees", "OVERHEADS", "ACTIVE", "EXEMPTEXPENSES", None, None),
        (Some("429"), "General Expenses", "OVERHEADS", "ACTIVE", "INPUT", None, None),
        (Some("453"), "Office Expenses", "OVERHEADS", "ACTIVE", "INPUT", None, None),
        (Some("610"), "Accounts Receivable", "CURRENT", "ACTIVE", "BASEXCLUDED", Some("DEBTORS"), None),
        (Some("630"), "Inventory", "INVENTORY", "ACTIVE", "BASEXCLUDED", None, None),
        (Some("800"), "Accounts Payable", "CURRLIAB", "ACTIVE", "BASEXCLUDED", Some("CREDITORS"), None),
        (Some("820"), "GST", "CURRLIAB", "ACTIVE", "BASEXCLUDED", Some("GST"), None),
        (None, "Unrealised Currency Gains", "CURRLIAB", "ACTIVE", "BASEXCLUDED", Some("UNREALISEDCURRENCYGAIN"), None),
        (Some("960"), "Retained Earnings", "EQUITY", "ACTIVE", "BASEXCLUDED", Some("RETAINEDEARNINGS"), None),
    ];
    let rates = vec![
        rate("GST on Income", "OUTPUT", "OUTPUT", 10.0, "ACTIVE", INCOME, "GST"),
        rate("GST Free Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0, "ACTIVE", INCOME, "GST"),
        rate("GST on Expenses", "INPUT", "INPUT", 10.0, "ACTIVE", EXPENSE, "GST"),
        rate("GST Free Expenses", "EXEMPTEXPENSES", "EXEMPTEXPENSES", 0.0, "ACTIVE", EXPENSE, "GST"),
        rate("Input Taxed", "INPUTTAXED", "INPUTTAXED", 0.0, "ACTIVE", ANY, "GST"),
        rate("BAS Excluded", "BASEXCLUDED", "BASEXCLUDED", 0.0, "ACTIVE", ANY, "GST"),
        rate(
            "GST on Imports",
            "GSTONIMPORTS",
            "GSTONIMPORTS",
            0.0,
            "ACTIVE",
            (false, false, false, true, false),
            "GST",
        ),
        rate("Wine Equalisation Tax", "TAX001", "OUTPUT", 29.0, "DELETED", INCOME, "WET"),
    ];
    org(AU_ORG, "AUD", rows, rates, now)
}

/// Xero's UK demo company, trimmed likewise.
pub fn united_kingdom(now: EpochMs) -> Org {
    let rows: &[AccountRow] = &[
        (Some("090"), "Business Bank Account", "BANK", "ACTIVE", "NONE", None, None),
        (Some("200"), "Sales", "REVENUE", "ACTIVE", "OUTPUT2", None, Some("Income from any normal business activity")),
        (Some("260"), "Other Revenue", "OTHERINCOME", "ACTIVE", "OUTPUT2", None, None),
        (Some("270"), "Interest Income", "OTHERINCOME", "ACTIVE", "EXEMPTOUTPUT", None, None),
        (Some("310"), "Cost of Goods Sold", "DIRECTCOSTS", "ACTIVE", "INPUT2", None, None),
        (Some("400"), "Advertising", "OVERHEADS", "ACTIVE", "INPUT2", None, None),
        (Some("429"), "General Expenses", "OVERHEADS", "ACTIVE", "INPUT2", None, None),
        (Some("610"), "Accounts Receivable", "CURRENT", "ACTIVE", "NONE", Some("DEBTORS"), None),
        (Some("630"), "Inventory", "INVENTORY", "ACTIVE", "NONE", None, None),
        (Some("800"), "Accounts Payable", "CURRLIAB", "ACTIVE", "NONE", Some("CREDITORS"), None),
        (Some("820"), "VAT", "CURRLIAB", "ACTIVE", "NONE", Some("GST"), None),
        (Some("960"), "Retained Earnings", "EQUITY", "ACTIVE", "NONE", Some("RETAINEDEARNINGS"), None),
    ];
    let rates = vec![
        rate("20% (VAT on Income)", "OUTPUT2", "OUTPUT", 20.0, "ACTIVE", INCOME, "VAT"),
        rate("5% (VAT on Income)", "RROUTPUT", "OUTPUT", 5.0, "ACTIVE", INCOME, "VAT"),
        rate("Zero Rated Income", "ZERORATEDOUTPUT", "ZERORATEDOUTPUT", 0.0, "ACTIVE", INCOME, "VAT"),
        rate("Exempt Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0, "ACTIVE", INCOME, "VAT"),
        rate("20% (VAT on Expenses)", "INPUT2", "INPUT", 20.0, "ACTIVE", EXPENSE, "VAT"),
        rate("5% (VAT on Expenses)", "RRINPUT", "INPUT", 5.0, "ACTIVE", EXPENSE, "VAT"),
        rate("Zero Rated Expenses", "ZERORATEDINPUT", "ZERORATEDINPUT", 0.0, "ACTIVE", EXPENSE, "VAT"),
        rate("No VAT", "NONE", "NONE", 0.0, "ACTIVE", ANY, "VAT"),
        rate("17.5% (VAT on Income)", "SROUTPUT", "OUTPUT", 17.5, "ARCHIVED", INCOME, "VAT"),
    ];
    org(UK_ORG, "GBP", rows, rates, now)
}
