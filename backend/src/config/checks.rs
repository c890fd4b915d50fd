//! The checks each value passes at start-up. Messages name the variable and never echo a secret.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use argon2::password_hash::phc::PasswordHash;
use reqwest::Url;
use secrecy::SecretString;
use shared::FieldMap;

use super::sources::{ADMIN_PASSWORD_HASH, FIELD_VARIABLES};
use super::{ClientCredentials, ConfigError};

pub(super) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { var, reason: reason.into() }
}

/// An absolute http(s) URL with a host and no query or fragment, returned without a trailing slash so
/// paths can be appended.
pub(super) fn base_url(var: &'static str, text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let url = Url::parse(text).map_err(|e| invalid(var, format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(var, format!("{text:?} must be an http or https URL with a host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(var, format!("{text:?} must not have a query or fragment")));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

pub(super) fn https_unless_loopback(var: &'static str, text: &str) -> Result<(), ConfigError> {
    let url = Url::parse(text).map_err(|e| invalid(var, e.to_string()))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "https" && !loopback {
        return Err(invalid(var, format!("{text:?} must be https: Xero only redirects to http on localhost")));
    }
    Ok(())
}

pub(super) fn admin_hash(text: &str) -> Result<SecretString, ConfigError> {
    let text = text.trim();
    // The value itself is not echoed: a hash is still worth cracking offline.
    let hash = PasswordHash::new(text).map_err(|e| {
        invalid(ADMIN_PASSWORD_HASH, format!("not a PHC string ({e}); make one with `xero-sync hash-password`"))
    })?;
    if !hash.algorithm.as_str().starts_with("argon2") {
        return Err(invalid(ADMIN_PASSWORD_HASH, "must be an argon2 hash; make one with `xero-sync hash-password`"));
    }
    Ok(SecretString::from(text))
}

pub(super) fn credentials(
    id: Option<String>,
    secret: Option<String>,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<ClientCredentials>, ConfigError> {
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(ClientCredentials {
            client_id: id.trim().to_owned(),
            client_secret: SecretString::from(secret.trim()),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::Incomplete { set: id_var, missing: secret_var }),
        (None, Some(_)) => Err(ConfigError::Incomplete { set: secret_var, missing: id_var }),
    }
}

/// Zoho API names: ASCII letters, digits and underscores, starting with a letter.
pub(crate) fn is_api_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// [`is_api_name`], for a variable.
pub(super) fn api_name(var: &'static str, text: &str) -> Result<String, ConfigError> {
    if !is_api_name(text) {
        return Err(invalid(
            var,
            format!("{text:?} is not a Zoho API name (letters, digits and underscores, starting with a letter)"),
        ));
    }
    Ok(text.to_owned())
}

/// Two roles on one CRM field would make the sync overwrite its own input: the first custom field (in
/// [`FieldMap::custom_fields`] order) whose API name an earlier one has, with that earlier one's index.
pub(crate) fn shared_field(fields: &FieldMap) -> Option<(usize, usize)> {
    let names = fields.custom_fields().map(|(_, name)| name);
    names.iter().enumerate().find_map(|(i, name)| {
        names[..i].iter().position(|earlier| earlier.eq_ignore_ascii_case(name)).map(|earlier| (i, earlier))
    })
}

/// [`shared_field`], for the variables.
pub(super) fn distinct_fields(fields: &FieldMap) -> Result<(), ConfigError> {
    match shared_field(fields) {
        Some((i, earlier)) => {
            let name = fields.custom_fields()[i].1;
            Err(invalid(FIELD_VARIABLES[i], format!("{name:?} is already the field of {}", FIELD_VARIABLES[earlier])))
        }
        None => Ok(()),
    }
}

/// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`), any case.
pub(super) fn boolean(var: &'static str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(invalid(var, format!("{text:?} is not true or false"))),
    }
}

/// A positive number of seconds (fractions allowed, for tests), at most a day.
pub(super) fn seconds(var: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let value: f64 = text.parse().map_err(|_| invalid(var, format!("{text:?} is not a number of seconds")))?;
    if !(value > 0.0 && value <= 86_400.0) {
        return Err(invalid(var, format!("{text:?} must be more than 0 and at most 86400 seconds")));
    }
    Ok(Duration::from_secs_f64(value))
}

/// A whole number within `range`.
pub(super) fn whole(
    var: &'static str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let text = text.trim();
    match text.parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(var, format!("{text:?} is not a whole number from {} to {}", range.start(), range.end()))),
    }
}

/// Addresses (`10.0.0.5`) or ranges (`10.0.0.0/8`, `fd00::/8`), separated by spaces or commas.
pub(super) fn networks(var: &'static str, text: &str) -> Result<Vec<IpNet>, ConfigError> {
    text.split([' ', ',', '\t', '\n'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| invalid(var, format!("{part:?} is not an IP address or a range like 10.0.0.0/8")))
        })
        .collect()
}

/// Content-Security-Policy sources (`https://*.zoho.com 'self'`): visible ASCII, without the `;` and `,`
/// that would end the directive or the policy; returned space-separated.
pub(super) fn csp_sources(var: &'static str, text: &str) -> Result<String, ConfigError> {
    let sources: Vec<&str> = text.split_whitespace().collect();
    match sources.iter().find(|s| !s.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',')) {
        Some(bad) => {
            Err(invalid(var, format!("{bad:?} is not a Content-Security-Policy source like https://*.zoho.com")))
        }
        None => Ok(sources.join(" ")),
    }
}
