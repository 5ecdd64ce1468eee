//! Every check id in words a board member understands: what it means, in
//! one line, and what to ask the supplier — the catalogue's
//! ([`crate::registry::CheckId`]), for ids read back as text from the store.

use crate::registry::CheckId;

/// What `check` means in one plain line, and what to ask the supplier;
/// `None` for an id outside the catalogue (a retired one).
#[must_use]
pub fn plain(check: &str) -> Option<(&'static str, &'static str)> {
    CheckId::parse(check).map(|c| (c.meaning(), c.question()))
}

#[cfg(test)]
mod tests {
    use super::plain;
    use crate::registry::CheckId;

    #[test]
    fn every_catalogue_id_has_plain_words() {
        for check in CheckId::ALL {
            assert!(plain(check.as_str()).is_some(), "{check}");
        }
    }

    #[test]
    fn unknown_ids_have_none() {
        assert_eq!(plain("tls.nonsense"), None);
    }
}
