//! An IP-to-ASN table in the TSV format iptoasn.com publishes
//! (`ip2asn-combined.tsv`): one range a line,
//! `range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description`,
//! IPv4 and IPv6 ranges mixed. Ranges announced by nobody carry AS 0
//! (`Not routed`); they are kept out of the table, so that an address in
//! one has no network.
//!
//! Read bounded: a regular file of at most [`MAX_BYTES`], every line
//! checked, a malformed one named by file and line. Pure once read; must
//! not depend on the network or the store.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The largest table read (the combined iptoasn.com file is about 30 MB).
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Why a table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AsnError {
    #[error("{}: cannot read the ASN table: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the ASN table is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: the ASN table is {size} bytes, more than the {max} read", path.display())]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The network an address belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Network {
    pub asn: u32,
    pub country: String,
    pub description: String,
}

/// One range, its ends as numbers (IPv4 in the IPv4-mapped IPv6 space, so
/// that both families sort in one list).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    start: u128,
    end: u128,
    network: usize,
}

/// A loaded table: ranges sorted by start, looked up by binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsnTable {
    ranges: Vec<Range>,
    networks: Vec<Network>,
}

/// An address as a number; IPv4 mapped into `::ffff:0:0/96`.
fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl AsnTable {
    /// Reads the table at `path`.
    ///
    /// # Errors
    /// [`AsnError`]: not a regular file, larger than [`MAX_BYTES`],
    /// unreadable, or a malformed line (named `file:line`).
    pub fn load(path: &Path) -> Result<Self, AsnError> {
        let io = |source| AsnError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(AsnError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        if meta.len() > MAX_BYTES {
            return Err(AsnError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                max: MAX_BYTES,
            });
        }
        // Read through `take`: a file that grew since `metadata` is still
        // read no further than the cap.
        let mut text = String::new();
        let file = std::fs::File::open(path).map_err(io)?;
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_BYTES + 1), &mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_BYTES {
            return Err(AsnError::TooLarge {
                path: path.to_path_buf(),
                size: text.len() as u64,
                max: MAX_BYTES,
            });
        }
        Self::parse(&text, path)
    }

    /// Parses table text as read from `path` (named in errors).
    ///
    /// # Errors
    /// [`AsnError::Malformed`] for the first malformed line.
    pub fn parse(text: &str, path: &Path) -> Result<Self, AsnError> {
        let mut table = Self::default();
        let mut index = std::collections::HashMap::<(u32, String, String), usize>::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| AsnError::Malformed {
                path: path.to_path_buf(),
                line: n + 1,
                reason,
            };
            let fields: Vec<&str> = line.splitn(5, '\t').collect();
            let [start, end, asn, country, description] = fields.as_slice() else {
                return Err(bad(format!(
                    "expected 5 tab-separated fields (range_start, range_end, AS_number, country_code, AS_description), found {}",
                    fields.len()
                )));
            };
            let address = |text: &str, what: &str| {
                text.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| bad(format!("{what} {text:?} is not an IP address")))
            };
            let (start, end) = (address(start, "range_start")?, address(end, "range_end")?);
            if start.is_ipv4() != end.is_ipv4() {
                return Err(bad(format!("range {start} - {end} mixes IPv4 and IPv6")));
            }
            let (lo, hi) = (number(start), number(end));
            if lo > hi {
                return Err(bad(format!("range_start {start} is after range_end {end}")));
            }
            let asn_text = asn.trim();
            let asn: u32 = asn_text
                .strip_prefix("AS")
                .unwrap_or(asn_text)
                .parse()
                .map_err(|_| bad(format!("AS_number {asn_text:?} is not a number")))?;
            if asn == 0 {
                continue;
            }
            let key = (
                asn,
                country.trim().to_owned(),
                description.trim().to_owned(),
            );
            let next = table.networks.len();
            let network = *index.entry(key).or_insert(next);
            if network == next {
                table.networks.push(Network {
                    asn,
                    country: country.trim().to_owned(),
                    description: description.trim().to_owned(),
                });
            }
            table.ranges.push(Range {
                start: lo,
                end: hi,
                network,
            });
        }
        table.ranges.sort_by_key(|r| (r.start, r.end));
        Ok(table)
    }

    /// The network `ip` belongs to; where ranges overlap, the narrowest
    /// one that starts last before it.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<&Network> {
        let n = number(ip);
        let after = self.ranges.partition_point(|r| r.start <= n);
        // Ranges in the file do not overlap; where a hand-made one does,
        // look back over the few that start before `n`.
        self.ranges
            .get(..after)?
            .iter()
            .rev()
            .take(16)
            .filter(|r| r.end >= n)
            .min_by_key(|r| r.end - r.start)
            .and_then(|r| self.networks.get(r.network))
    }

    /// How many routed ranges it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether it holds no routed range.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n\
        1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n\
        127.0.0.0\t127.255.255.255\t64500\tZZ\tLOOPBACK-EXAMPLE\n\
        2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64501\tZZ\tDOC-V6 Example, Inc.\n";

    #[test]
    fn looks_up_v4_and_v6_and_skips_unrouted() {
        let t = AsnTable::parse(TABLE, Path::new("t.tsv")).unwrap();
        assert_eq!(t.len(), 3);
        let lo = t.lookup("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            (lo.asn, lo.description.as_str()),
            (64500, "LOOPBACK-EXAMPLE")
        );
        assert_eq!(t.lookup("1.0.0.7".parse().unwrap()).unwrap().asn, 13335);
        assert!(t.lookup("1.0.2.1".parse().unwrap()).is_none());
        assert!(t.lookup("8.8.8.8".parse().unwrap()).is_none());
        let v6 = t.lookup("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(v6.description, "DOC-V6 Example, Inc.");
        assert!(t.lookup("::1".parse().unwrap()).is_none());
    }

    #[test]
    fn malformed_lines_are_located() {
        let cases = [
            (
                "1.0.0.0\t1.0.0.255\t13335\n",
                1,
                "expected 5 tab-separated fields",
            ),
            (
                "\n1.0.0.x\t1.0.0.255\t1\tUS\tX\n",
                2,
                "range_start \"1.0.0.x\"",
            ),
            ("1.0.0.9\t1.0.0.1\t1\tUS\tX\n", 1, "is after range_end"),
            ("1.0.0.0\t::1\t1\tUS\tX\n", 1, "mixes IPv4 and IPv6"),
            ("1.0.0.0\t1.0.0.1\tmany\tUS\tX\n", 1, "AS_number \"many\""),
        ];
        for (text, line, reason) in cases {
            let e = AsnTable::parse(text, Path::new("asn.tsv")).unwrap_err();
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("asn.tsv:{line}: ")), "{shown}");
            assert!(shown.contains(reason), "{shown}");
        }
    }

    #[test]
    fn load_refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = AsnTable::load(dir.path()).unwrap_err();
        assert!(matches!(e, AsnError::NotAFile { .. }), "{e}");
        let missing = AsnTable::load(&dir.path().join("none.tsv")).unwrap_err();
        assert!(matches!(missing, AsnError::Io { .. }), "{missing}");
        let file = dir.path().join("ok.tsv");
        std::fs::write(&file, TABLE).unwrap();
        assert_eq!(AsnTable::load(&file).unwrap().len(), 3);
    }
}
