//! A real browser for the reports: Debian's `chromium`, headless, in a
//! network namespace of its own (`unshare -rn`, so no packet can leave
//! the machine whatever the page or the browser tries), printing a page to
//! PDF and taking a screenshot of it.
//!
//! `.ci/run` installs chromium and sets `SUPPLYWATCH_REQUIRE_BROWSER=1`:
//! there a missing browser fails the test. Elsewhere a missing browser is
//! said on stderr and the browser part is skipped (`apt-get install
//! chromium` to run it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the browser made of a page.
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub png: Vec<u8>,
    /// What the browser said on stderr.
    pub log: String,
}

impl Rendered {
    /// Pages in the PDF (`/Type /Page` objects, not `/Pages`).
    pub fn pages(&self) -> usize {
        let text = String::from_utf8_lossy(&self.pdf);
        text.match_indices("/Type")
            .filter(|(i, _)| {
                let rest = text[i + 5..].trim_start();
                rest.starts_with("/Page") && !rest.starts_with("/Pages")
            })
            .count()
    }

    /// The screenshot's width and height, from its PNG header.
    pub fn png_size(&self) -> (u32, u32) {
        assert_eq!(&self.png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&self.png[16..20]), be(&self.png[20..24]))
    }
}

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// Prints `page` to PDF and screenshots it (`width`×`height`); `None` when
/// no browser is installed and none is required.
pub fn render(page: &Path, width: u32, height: u32) -> Option<Rendered> {
    let Some(chromium) = browser() else {
        assert!(
            std::env::var_os("SUPPLYWATCH_REQUIRE_BROWSER").is_none(),
            "SUPPLYWATCH_REQUIRE_BROWSER is set but no chromium is installed"
        );
        eprintln!("no chromium: the page was not opened in a browser (apt-get install chromium)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("page.pdf");
    let png = dir.path().join("page.png");
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut log = String::new();
    for output in [
        format!("--print-to-pdf={}", pdf.display()),
        format!("--screenshot={}", png.display()),
    ] {
        let out = Command::new("unshare")
            .arg("-rn")
            .arg(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-pdf-header-footer",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(&output)
            .arg(&url)
            .output()
            .expect("unshare (util-linux) and chromium run");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "chromium {output} failed:\n{stderr}");
        log.push_str(&stderr);
    }
    Some(Rendered {
        pdf: std::fs::read(&pdf).expect("the PDF was written"),
        png: std::fs::read(&png).expect("the screenshot was written"),
        log,
    })
}

/// Lines of the browser's log that say the page itself went wrong (not
/// the browser's own complaints about a missing D-Bus or GPU).
pub fn page_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR"))
        .collect()
}
