//! Generated products, for bulk runs and load tests ([`super::ZohoConfig::generated_products`]): a
//! catalogue that is the same for the same seed, with the mix a real one has.
//!
//! Per 1,000 products, about: 750 valid; 50 not marked "Add to Xero"; 30 that pass with a warning (a `/`
//! in the code, an inactive product); 150 that break one rule each (15 per rule: no code, a code over 30
//! characters, a name over 50, not taxable, no tax, no GL account, an unknown GL account, an unknown tax
//! rate, a negative price, a price with 5 decimals); and 10 pairs whose codes differ only in case. Codes
//! are otherwise unique. `Modified_Time` is spread over the last 90 days.
//!
//! Each product's [`ProductKind`] says what a correct sync does with it, from the rules the README lists;
//! it is the test oracle, so it is written here and not derived from the client's rules.

use chrono::{DateTime, FixedOffset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use super::CustomFields;
use super::seed::{Product, record};

/// The first generated id; generated ids are consecutive from here (19 digits, like Zoho's).
pub(super) const FIRST_GENERATED_ID: u64 = 4_150_868_000_010_000_001;

/// What is wrong with a product, by the sync rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// Product_Code is empty.
    MissingCode,
    /// Product_Code is over Xero's 30 characters.
    LongCode,
    /// Product_Code contains `/` (a warning).
    SlashCode,
    /// Product_Name is over Xero's 50 characters.
    LongName,
    /// Taxable is unticked.
    NotTaxable,
    /// Taxable but no Tax selected.
    NoTax,
    /// The GL account is empty.
    NoGlAccount,
    /// The GL account names no account of the Xero organisation ("Salse").
    UnknownGlAccount,
    /// The tax rate names no rate of the Xero organisation ("VAT on Income" in the AU org).
    UnknownTaxRate,
    /// Unit_Price is negative.
    NegativePrice,
    /// Unit_Price has 5 decimals (Xero keeps 4).
    FiveDecimalPrice,
    /// Product_Active is unticked (a warning).
    Inactive,
}

impl Flaw {
    /// The flaws that refuse a product.
    pub const BREAKING: [Flaw; 10] = [
        Flaw::MissingCode,
        Flaw::LongCode,
        Flaw::LongName,
        Flaw::NotTaxable,
        Flaw::NoTax,
        Flaw::NoGlAccount,
        Flaw::UnknownGlAccount,
        Flaw::UnknownTaxRate,
        Flaw::NegativePrice,
        Flaw::FiveDecimalPrice,
    ];
    /// The flaws that only warn.
    pub const WARNING: [Flaw; 2] = [Flaw::SlashCode, Flaw::Inactive];

    /// The CRM field (API name) the rule's issue names.
    pub fn field(self, fields: &CustomFields) -> &str {
        match self {
            Flaw::MissingCode | Flaw::LongCode | Flaw::SlashCode => "Product_Code",
            Flaw::LongName => "Product_Name",
            Flaw::NotTaxable => "Taxable",
            Flaw::NoTax => "Tax",
            Flaw::NoGlAccount | Flaw::UnknownGlAccount => &fields.gl_account,
            Flaw::UnknownTaxRate => &fields.tax_rate,
            Flaw::NegativePrice | Flaw::FiveDecimalPrice => "Unit_Price",
            Flaw::Inactive => "Product_Active",
        }
    }
}

/// What a correct sync does with a generated product.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProductKind {
    /// Passes every rule: gets an item.
    Valid,
    /// Passes with a warning on [`Flaw::field`]: gets an item.
    Warned(Flaw),
    /// Breaks one rule: refused, with an issue on [`Flaw::field`].
    Broken(Flaw),
    /// "Add to Xero" is unticked: skipped.
    NotForXero,
    /// Valid on its own, but its code equals `twin`'s (the other product's id) but for case: only one of
    /// the two can own the item, the other is refused.
    CaseClash { twin: String },
}

/// One generated product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub id: String,
    pub code: Option<String>,
    pub kind: ProductKind,
}

const ADJECTIVES: [&str; 12] = [
    "Compact",
    "Wireless",
    "Ergonomic",
    "Slim",
    "Heavy-Duty",
    "Portable",
    "Silent",
    "Rugged",
    "Smart",
    "Classic",
    "Pro",
    "Mini",
];
const NOUNS: [(&str, &str); 12] = [
    ("Mouse", "MS"),
    ("Keyboard", "KB"),
    ("USB-C Hub", "HUB"),
    ("Monitor Arm", "ARM"),
    ("Desk Lamp", "LMP"),
    ("Headset", "HS"),
    ("Webcam", "CAM"),
    ("Docking Station", "DCK"),
    ("Laptop Stand", "STD"),
    ("Cable Kit", "CBL"),
    ("Speaker", "SPK"),
    ("Power Bank", "PWR"),
];

/// Builds `count` products from `seed`, timed relative to `now`; ids from [`FIRST_GENERATED_ID`].
pub(super) fn generate(
    count: usize,
    seed: u64,
    fields: &CustomFields,
    now: DateTime<FixedOffset>,
) -> Vec<(Map<String, Value>, Generated)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let index = out.len();
        let roll = rng.random_range(0..1000);
        let kind = match roll {
            0..50 => Draw::One(ProductKind::NotForXero),
            50..80 => Draw::One(ProductKind::Warned(Flaw::WARNING[roll % 2])),
            80..230 => Draw::One(ProductKind::Broken(Flaw::BREAKING[roll % 10])),
            230..250 if index + 2 <= count => Draw::Pair,
            _ => Draw::One(ProductKind::Valid),
        };
        match kind {
            Draw::One(kind) => {
                let product = Blueprint::new(&mut rng, index, kind);
                out.push(product.build(&mut rng, fields, now));
            }
            Draw::Pair => {
                let (first, second) = (id_of(index), id_of(index + 1));
                let mut a = Blueprint::new(&mut rng, index, ProductKind::CaseClash { twin: second });
                let code = format!("CC-{index:05}-A");
                a.code = Some(code.to_lowercase());
                let mut b = Blueprint::new(&mut rng, index + 1, ProductKind::CaseClash { twin: first });
                b.code = Some(code);
                out.push(a.build(&mut rng, fields, now));
                out.push(b.build(&mut rng, fields, now));
            }
        }
    }
    out
}

enum Draw {
    One(ProductKind),
    Pair,
}

fn id_of(index: usize) -> String {
    (FIRST_GENERATED_ID + index as u64).to_string()
}

/// One product's values before they become a record.
struct Blueprint {
    id: String,
    kind: ProductKind,
    name: String,
    code: Option<String>,
    price: f64,
    description: Option<String>,
    active: bool,
    taxable: bool,
    tax: bool,
    add_to_xero: bool,
    gl_account: Option<&'static str>,
    tax_rate: Option<&'static str>,
}

impl Blueprint {
    fn new(rng: &mut StdRng, index: usize, kind: ProductKind) -> Self {
        let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
        let (noun, prefix) = NOUNS[rng.random_range(0..NOUNS.len())];
        let cents: u32 = rng.random_range(100..100_000);
        let mut blueprint = Blueprint {
            id: id_of(index),
            name: format!("{adjective} {noun} {index:05}"),
            code: Some(format!("{prefix}-{index:05}")),
            price: f64::from(cents) / 100.0,
            description: rng.random_bool(0.7).then(|| format!("{adjective} {noun}, sold individually.")),
            active: true,
            taxable: true,
            tax: true,
            add_to_xero: true,
            // Names and codes both resolve; "Other Revenue" is an active revenue account too.
            gl_account: Some(["Sales", "Sales", "Sales", "200", "Other Revenue"][rng.random_range(0..5)]),
            tax_rate: Some(["GST on Income", "GST on Income", "OUTPUT"][rng.random_range(0..3)]),
            kind: kind.clone(),
        };
        let flaw = match &kind {
            ProductKind::Warned(flaw) | ProductKind::Broken(flaw) => Some(*flaw),
            ProductKind::NotForXero => {
                blueprint.add_to_xero = false;
                None
            }
            ProductKind::Valid | ProductKind::CaseClash { .. } => None,
        };
        match flaw {
            Some(Flaw::MissingCode) => blueprint.code = None,
            Some(Flaw::LongCode) => blueprint.code = Some(format!("{prefix}-EXTENDED-WARRANTY-EDITION-{index:05}")),
            Some(Flaw::SlashCode) => blueprint.code = Some(format!("{prefix}/{index:05}")),
            Some(Flaw::LongName) => {
                blueprint.name = format!("{adjective} {noun} with Extended Warranty and Carry Case, Model {index:05}")
            }
            Some(Flaw::NotTaxable) => blueprint.taxable = false,
            Some(Flaw::NoTax) => blueprint.tax = false,
            Some(Flaw::NoGlAccount) => blueprint.gl_account = None,
            Some(Flaw::UnknownGlAccount) => blueprint.gl_account = Some("Salse"),
            Some(Flaw::UnknownTaxRate) => blueprint.tax_rate = Some("VAT on Income"),
            Some(Flaw::NegativePrice) => blueprint.price = -blueprint.price,
            // n / 100,000 with n not a multiple of 10 has exactly 5 decimals.
            Some(Flaw::FiveDecimalPrice) => blueprint.price = f64::from(cents * 10 + 5) / 100_000.0,
            Some(Flaw::Inactive) => blueprint.active = false,
            None => {}
        }
        blueprint
    }

    fn build(
        self,
        rng: &mut StdRng,
        fields: &CustomFields,
        now: DateTime<FixedOffset>,
    ) -> (Map<String, Value>, Generated) {
        let modified = now - chrono::Duration::seconds(rng.random_range(60..90 * 86_400));
        let created = modified - chrono::Duration::seconds(rng.random_range(0..200 * 86_400));
        let record = record(
            fields,
            &Product {
                id: &self.id,
                name: &self.name,
                code: self.code.as_deref(),
                price: self.price,
                description: self.description.as_deref(),
                active: self.active,
                taxable: self.taxable,
                tax: self.tax.then_some(0),
                add_to_xero: self.add_to_xero,
                gl_account: self.gl_account,
                tax_rate: self.tax_rate,
                stock: f64::from(rng.random_range(0..500_u32)),
                created,
                modified,
            },
        );
        (record, Generated { id: self.id, code: self.code, kind: self.kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00+11:00").expect("time")
    }

    #[test]
    fn the_same_seed_gives_the_same_catalogue() {
        let fields = CustomFields::default();
        let a = generate(500, 7, &fields, now());
        let b = generate(500, 7, &fields, now());
        assert_eq!(a, b);
        assert_ne!(a, generate(500, 8, &fields, now()), "another seed, another catalogue");
        assert_eq!(a.len(), 500);
    }

    #[test]
    fn codes_are_unique_but_for_the_case_clash_pairs() {
        let fields = CustomFields::default();
        let all = generate(3000, 1, &fields, now());
        let mut seen = std::collections::HashMap::new();
        for (_, product) in &all {
            if let Some(code) = &product.code
                && let Some(other) = seen.insert(code.to_lowercase(), product.id.clone())
            {
                assert_eq!(product.kind, ProductKind::CaseClash { twin: other.clone() }, "{code}");
            }
        }
        let count = |f: &dyn Fn(&ProductKind) -> bool| all.iter().filter(|(_, p)| f(&p.kind)).count();
        let valid = count(&|k| *k == ProductKind::Valid);
        assert!((2000..2500).contains(&valid), "{valid}");
        for flaw in Flaw::BREAKING {
            assert!(count(&|k| *k == ProductKind::Broken(flaw)) > 10, "{flaw:?}");
        }
        assert!(count(&|k| matches!(k, ProductKind::CaseClash { .. })) >= 20);
        assert!(count(&|k| *k == ProductKind::NotForXero) > 100);
    }
}
