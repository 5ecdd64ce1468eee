//! Text that a supplier controls (DNS records, terms cut from them) made
//! safe to put in a finding's summary and evidence: control characters and
//! the format characters that reorder or hide text (bidi overrides and
//! isolates, zero-width characters, tags) are shown escaped as `\u{202e}`,
//! so a finding reads as what the record says and stays on one line.
//!
//! Pure; depends on nothing. The mail layer neutralises again for its own
//! media (`mail::text`); this is about the finding itself, which the JSON
//! output, the store and the table show too.

/// The most characters [`escaped`] keeps (the raw text stays in the
/// observation).
pub const MAX_SHOWN: usize = 2048;

/// Characters that reorder or hide text: the soft hyphen, the Arabic letter
/// mark, the Mongolian vowel separator, zero-width characters and
/// directional marks, line and paragraph separators, embeddings and
/// overrides, invisible operators and isolates, the BOM, interlinear
/// annotation controls and tags.
#[must_use]
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// `text` with every control or hidden character escaped as `\u{…}` and
/// backslashes doubled (so an escape cannot be faked), cut to
/// [`MAX_SHOWN`] characters with `…` when longer.
#[must_use]
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        if i == MAX_SHOWN {
            out.push('…');
            break;
        }
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() || is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_the_rest_is_kept() {
        assert_eq!(escaped("v=spf1 -all"), "v=spf1 -all");
        assert_eq!(escaped("a\u{0}b"), "a\\u{0}b");
        assert_eq!(escaped("x\u{202e}lla-"), "x\\u{202e}lla-");
        assert_eq!(
            escaped("l1\r\nl2\tx\u{7f}"),
            "l1\\u{d}\\u{a}l2\\u{9}x\\u{7f}"
        );
        assert_eq!(
            escaped("\u{200b}\u{2066}\u{feff}\u{e0041}"),
            "\\u{200b}\\u{2066}\\u{feff}\\u{e0041}"
        );
        assert_eq!(escaped("é ü ∀ \u{fffd}"), "é ü ∀ \u{fffd}");
        // A literal backslash-u in the record is not taken for an escape.
        assert_eq!(escaped("\\u{202e}"), "\\\\u{202e}");
    }

    #[test]
    fn long_text_is_cut() {
        let long = "\u{0}".repeat(MAX_SHOWN + 10);
        let shown = escaped(&long);
        assert!(shown.ends_with('…'));
        assert_eq!(shown.matches("\\u{0}").count(), MAX_SHOWN);
    }
}
