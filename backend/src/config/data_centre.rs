//! Zoho's data centres: each has its own accounts server and API host, and tokens only work in theirs.

use std::fmt;

/// The Zoho data centre holding the CRM organisation (`../shared/reference/zoho-crm.md` §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZohoDc {
    #[default]
    Com,
    Eu,
    In,
    ComAu,
    Jp,
    ComCn,
    Ca,
    Sa,
}

/// Zoho's CRM web hosts, per data centre: the pages that frame the widget.
pub(super) const ZOHO_CRM_ORIGINS: &str = "https://*.zoho.com https://*.zoho.eu https://*.zoho.in \
https://*.zoho.com.au https://*.zoho.jp https://*.zoho.com.cn https://*.zohocloud.ca https://*.zoho.sa";

impl ZohoDc {
    pub const ALL: [ZohoDc; 8] =
        [ZohoDc::Com, ZohoDc::Eu, ZohoDc::In, ZohoDc::ComAu, ZohoDc::Jp, ZohoDc::ComCn, ZohoDc::Ca, ZohoDc::Sa];

    /// The domain suffix, as written in `ZOHO_DC`.
    pub fn as_str(self) -> &'static str {
        match self {
            ZohoDc::Com => "com",
            ZohoDc::Eu => "eu",
            ZohoDc::In => "in",
            ZohoDc::ComAu => "com.au",
            ZohoDc::Jp => "jp",
            ZohoDc::ComCn => "com.cn",
            ZohoDc::Ca => "ca",
            ZohoDc::Sa => "sa",
        }
    }

    /// The OAuth server; Canada's is on `zohocloud.ca`, not `zoho.ca`.
    pub fn accounts_url(self) -> String {
        match self {
            ZohoDc::Ca => "https://accounts.zohocloud.ca".to_owned(),
            dc => format!("https://accounts.zoho.{}", dc.as_str()),
        }
    }

    /// The CRM web app, where a record's page is (links from the admin pages); Canada's is on
    /// `zohocloud.ca`.
    pub fn crm_url(self) -> String {
        match self {
            ZohoDc::Ca => "https://crm.zohocloud.ca".to_owned(),
            dc => format!("https://crm.zoho.{}", dc.as_str()),
        }
    }

    /// The CRM API host (the `api_domain` of token responses).
    pub fn api_url(self) -> String {
        format!("https://www.zohoapis.{}", self.as_str())
    }

    pub(super) fn parse(text: &str) -> Option<ZohoDc> {
        let text = text.trim().trim_start_matches('.').to_ascii_lowercase();
        Self::ALL.into_iter().find(|dc| dc.as_str() == text)
    }
}

impl fmt::Display for ZohoDc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
