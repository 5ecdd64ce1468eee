//! Making text that suppliers and servers control safe for e-mail: escaped
//! in HTML, and one clean line before it goes near a header.

/// Characters that reorder or hide text (bidi overrides and isolates,
/// zero-width characters): a supplier's string could make an alert read
/// differently from what it says.
#[must_use]
pub fn is_deceptive(c: char) -> bool {
    // One list of such characters for findings, tables and e-mail.
    crate::checks::untrusted::is_hidden(c)
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values,
/// and `=` and `:` too, so that no attribute-like (`onerror=`) or URL-like
/// (`javascript:`) text is left in the source for a filter or a careless
/// client to act on; every client shows the characters as they were.
#[must_use]
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '=' => out.push_str("&#61;"),
            ':' => out.push_str("&#58;"),
            c if (c.is_control() && c != '\n' && c != '\t') || is_deceptive(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One line for a header (a subject): CR, LF and every other control
/// character become a space, runs of spaces one, at most `max` characters
/// (an ellipsis marks a cut).
#[must_use]
pub fn header_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_control() || is_deceptive(c) {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        out.push(c);
    }
    let trimmed = out.trim_end();
    if trimmed.chars().count() > max {
        let cut: String = trimmed.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        trimmed.to_owned()
    }
}

/// Text for a plain-text body: control characters other than newline and
/// tab become spaces (no terminal escapes, no stray CRs), lines end in LF.
#[must_use]
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\n' && c != '\t') || is_deceptive(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            html("<img src=x onerror=alert(1)> javascript:x"),
            "&lt;img src&#61;x onerror&#61;alert(1)&gt; javascript&#58;x"
        );
    }

    #[test]
    fn header_line_has_no_line_breaks() {
        let hostile = "acme\r\nBcc: victim@example.com\r\n\r\nbody";
        let line = header_line(hostile, 200);
        assert!(!line.contains('\r') && !line.contains('\n'));
        assert_eq!(line, "acme Bcc: victim@example.com body");
        assert_eq!(header_line("a\u{2028}b", 10), "a b");
        assert_eq!(header_line("abcdefghij", 5), "abcd…");
        assert_eq!(header_line("  x  ", 5), "x");
        assert_eq!(header_line("evil\u{202E}gnp.exe", 50), "evil gnp.exe");
        assert_eq!(html("a\u{2066}b\u{200B}c"), "a b c");
    }

    #[test]
    fn plain_drops_terminal_escapes() {
        assert_eq!(plain("a\x1b[31mb\r\nc"), "a [31mb \nc");
    }
}
