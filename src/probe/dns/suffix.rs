//! Public suffixes and registrable domains, from the Public Suffix List
//! compiled into the `psl` crate — no list is fetched at run time.
//!
//! A top-level label the list does not know (`.test`, `.internal`) is a
//! one-label public suffix, as the list's implicit `*` rule says, so
//! `mail.test` is the registrable domain of `spf.mail.test`.
//!
//! Pure functions over names; must not depend on the network or on the
//! rest of the crate.

/// `name` in the form the list expects: lower case, no trailing dot.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The registrable domain (public suffix plus one label) of `name`, or
/// `None` when `name` is itself a public suffix (or empty).
#[must_use]
pub fn registrable_domain(name: &str) -> Option<String> {
    let name = normalise(name);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return None;
    }
    psl::domain_str(&name).map(str::to_owned)
}

/// The public suffix of `name` (`com`, `co.uk`, `github.io`, `test` …).
#[must_use]
pub fn public_suffix(name: &str) -> Option<String> {
    let name = normalise(name);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return None;
    }
    psl::suffix_str(&name).map(str::to_owned)
}

/// Whether `name` is a public suffix (a TLD, `co.uk`, an unknown TLD …).
#[must_use]
pub fn is_public_suffix(name: &str) -> bool {
    let name = normalise(name);
    !name.is_empty() && psl::suffix_str(&name) == Some(name.as_str())
}

/// `name` and its parents, longest first, stopping before the public
/// suffix: `a.b.example.co.uk` gives `a.b.example.co.uk`, `b.example.co.uk`,
/// `example.co.uk`. Empty when `name` is a public suffix. At most `cap`
/// names, so a hostile 127-label name cannot fan out into 127 queries; when
/// there are more, names from the middle are dropped, never the
/// registrable domain, which is where CAA and NS records usually are.
#[must_use]
pub fn names_below_suffix(name: &str, cap: usize) -> Vec<String> {
    let name = normalise(name);
    let Some(registrable) = registrable_domain(&name) else {
        return Vec::new();
    };
    if cap == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current = name.as_str();
    loop {
        if current == registrable {
            break;
        }
        if out.len() + 1 < cap {
            out.push(current.to_owned());
        }
        match current.split_once('.') {
            Some((_, parent)) => current = parent,
            None => break,
        }
    }
    out.push(registrable);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        for (name, expected) in [
            ("spf.mail.test", Some("mail.test")),
            ("mail.test", Some("mail.test")),
            ("MAIL.Test.", Some("mail.test")),
            ("test", None),
            ("www.example.co.uk", Some("example.co.uk")),
            ("co.uk", None),
            ("a.b.example.com", Some("example.com")),
            ("ns1.provider.internal", Some("provider.internal")),
            ("", None),
            ("a..b.com", None),
        ] {
            assert_eq!(
                registrable_domain(name).as_deref(),
                expected,
                "registrable domain of {name:?}"
            );
        }
    }

    #[test]
    fn public_suffixes() {
        assert_eq!(public_suffix("a.example.co.uk").as_deref(), Some("co.uk"));
        assert_eq!(public_suffix("spf.mail.test").as_deref(), Some("test"));
        assert_eq!(
            public_suffix("site.github.io").as_deref(),
            Some("github.io")
        );
        assert_eq!(public_suffix(""), None);
        assert!(is_public_suffix("test"));
        assert!(is_public_suffix("com"));
        assert!(is_public_suffix("co.uk"));
        assert!(!is_public_suffix("example.com"));
        assert!(!is_public_suffix(""));
    }

    #[test]
    fn climbing_stops_before_the_suffix() {
        assert_eq!(
            names_below_suffix("a.b.example.co.uk", 10),
            ["a.b.example.co.uk", "b.example.co.uk", "example.co.uk"]
        );
        assert_eq!(
            names_below_suffix("www.caa.test", 10),
            ["www.caa.test", "caa.test"]
        );
        assert!(names_below_suffix("com", 10).is_empty());
        assert_eq!(names_below_suffix("a.b.c.d.example.com", 2).len(), 2);
    }

    #[test]
    fn a_capped_climb_keeps_the_registrable_domain() {
        let long = "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.example.com";
        let names = names_below_suffix(long, 10);
        assert_eq!(names.len(), 10);
        assert_eq!(names.first().map(String::as_str), Some(long));
        assert_eq!(
            names.get(8).map(String::as_str),
            Some("l9.l10.l11.example.com")
        );
        assert_eq!(names.last().map(String::as_str), Some("example.com"));
        assert_eq!(
            names_below_suffix("a.b.c.d.example.com", 2),
            ["a.b.c.d.example.com", "example.com"]
        );
        assert_eq!(names_below_suffix("a.b.example.com", 1), ["example.com"]);
        assert!(names_below_suffix("a.b.example.com", 0).is_empty());
        // Exactly at the cap: nothing dropped.
        assert_eq!(
            names_below_suffix("a.b.example.com", 3),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
    }
}
