//! ISO reference codes that supplier records are checked against: ISO 3166-1
//! alpha-2 country codes, ISO 4217 currency codes and ISO 17442 legal entity
//! identifiers (LEIs).
//!
//! The tables are plain data compiled into the binary, so a lookup never
//! touches the network or the database; this module must not depend on any
//! other module of the crate.
//!
//! Sources: the English short names come from the Debian `iso-codes` data
//! (4.15.0), which mirrors the ISO 3166 and ISO 4217 maintenance agencies'
//! lists; the currency list is brought up to the 2025 amendments by hand (see
//! the comment on [`CURRENCIES`]). When ISO publishes an amendment, update the
//! table and the count in the tests together.

/// Every officially assigned ISO 3166-1 alpha-2 code (249) with its English
/// short name, sorted by code so that lookups can use binary search.
///
/// Only officially assigned codes are listed. `XK` (Kosovo) is deliberately
/// absent: it is a user-assigned code (the `XA`–`XZ` range), widely used by
/// the European Commission and others but not part of ISO 3166-1.
///
/// The Netherlands carries its short name as changed by ISO in 2023,
/// "Netherlands (Kingdom of the)".
pub const COUNTRIES: &[(&str, &str)] = &[
    ("AD", "Andorra"),
    ("AE", "United Arab Emirates"),
    ("AF", "Afghanistan"),
    ("AG", "Antigua and Barbuda"),
    ("AI", "Anguilla"),
    ("AL", "Albania"),
    ("AM", "Armenia"),
    ("AO", "Angola"),
    ("AQ", "Antarctica"),
    ("AR", "Argentina"),
    ("AS", "American Samoa"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("AW", "Aruba"),
    ("AX", "Åland Islands"),
    ("AZ", "Azerbaijan"),
    ("BA", "Bosnia and Herzegovina"),
    ("BB", "Barbados"),
    ("BD", "Bangladesh"),
    ("BE", "Belgium"),
    ("BF", "Burkina Faso"),
    ("BG", "Bulgaria"),
    ("BH", "Bahrain"),
    ("BI", "Burundi"),
    ("BJ", "Benin"),
    ("BL", "Saint Barthélemy"),
    ("BM", "Bermuda"),
    ("BN", "Brunei Darussalam"),
    ("BO", "Bolivia, Plurinational State of"),
    ("BQ", "Bonaire, Sint Eustatius and Saba"),
    ("BR", "Brazil"),
    ("BS", "Bahamas"),
    ("BT", "Bhutan"),
    ("BV", "Bouvet Island"),
    ("BW", "Botswana"),
    ("BY", "Belarus"),
    ("BZ", "Belize"),
    ("CA", "Canada"),
    ("CC", "Cocos (Keeling) Islands"),
    ("CD", "Congo, The Democratic Republic of the"),
    ("CF", "Central African Republic"),
    ("CG", "Congo"),
    ("CH", "Switzerland"),
    ("CI", "Côte d'Ivoire"),
    ("CK", "Cook Islands"),
    ("CL", "Chile"),
    ("CM", "Cameroon"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CR", "Costa Rica"),
    ("CU", "Cuba"),
    ("CV", "Cabo Verde"),
    ("CW", "Curaçao"),
    ("CX", "Christmas Island"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DJ", "Djibouti"),
    ("DK", "Denmark"),
    ("DM", "Dominica"),
    ("DO", "Dominican Republic"),
    ("DZ", "Algeria"),
    ("EC", "Ecuador"),
    ("EE", "Estonia"),
    ("EG", "Egypt"),
    ("EH", "Western Sahara"),
    ("ER", "Eritrea"),
    ("ES", "Spain"),
    ("ET", "Ethiopia"),
    ("FI", "Finland"),
    ("FJ", "Fiji"),
    ("FK", "Falkland Islands (Malvinas)"),
    ("FM", "Micronesia, Federated States of"),
    ("FO", "Faroe Islands"),
    ("FR", "France"),
    ("GA", "Gabon"),
    ("GB", "United Kingdom"),
    ("GD", "Grenada"),
    ("GE", "Georgia"),
    ("GF", "French Guiana"),
    ("GG", "Guernsey"),
    ("GH", "Ghana"),
    ("GI", "Gibraltar"),
    ("GL", "Greenland"),
    ("GM", "Gambia"),
    ("GN", "Guinea"),
    ("GP", "Guadeloupe"),
    ("GQ", "Equatorial Guinea"),
    ("GR", "Greece"),
    ("GS", "South Georgia and the South Sandwich Islands"),
    ("GT", "Guatemala"),
    ("GU", "Guam"),
    ("GW", "Guinea-Bissau"),
    ("GY", "Guyana"),
    ("HK", "Hong Kong"),
    ("HM", "Heard Island and McDonald Islands"),
    ("HN", "Honduras"),
    ("HR", "Croatia"),
    ("HT", "Haiti"),
    ("HU", "Hungary"),
    ("ID", "Indonesia"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IM", "Isle of Man"),
    ("IN", "India"),
    ("IO", "British Indian Ocean Territory"),
    ("IQ", "Iraq"),
    ("IR", "Iran, Islamic Republic of"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("JE", "Jersey"),
    ("JM", "Jamaica"),
    ("JO", "Jordan"),
    ("JP", "Japan"),
    ("KE", "Kenya"),
    ("KG", "Kyrgyzstan"),
    ("KH", "Cambodia"),
    ("KI", "Kiribati"),
    ("KM", "Comoros"),
    ("KN", "Saint Kitts and Nevis"),
    ("KP", "Korea, Democratic People's Republic of"),
    ("KR", "Korea, Republic of"),
    ("KW", "Kuwait"),
    ("KY", "Cayman Islands"),
    ("KZ", "Kazakhstan"),
    ("LA", "Lao People's Democratic Republic"),
    ("LB", "Lebanon"),
    ("LC", "Saint Lucia"),
    ("LI", "Liechtenstein"),
    ("LK", "Sri Lanka"),
    ("LR", "Liberia"),
    ("LS", "Lesotho"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("LY", "Libya"),
    ("MA", "Morocco"),
    ("MC", "Monaco"),
    ("MD", "Moldova, Republic of"),
    ("ME", "Montenegro"),
    ("MF", "Saint Martin (French part)"),
    ("MG", "Madagascar"),
    ("MH", "Marshall Islands"),
    ("MK", "North Macedonia"),
    ("ML", "Mali"),
    ("MM", "Myanmar"),
    ("MN", "Mongolia"),
    ("MO", "Macao"),
    ("MP", "Northern Mariana Islands"),
    ("MQ", "Martinique"),
    ("MR", "Mauritania"),
    ("MS", "Montserrat"),
    ("MT", "Malta"),
    ("MU", "Mauritius"),
    ("MV", "Maldives"),
    ("MW", "Malawi"),
    ("MX", "Mexico"),
    ("MY", "Malaysia"),
    ("MZ", "Mozambique"),
    ("NA", "Namibia"),
    ("NC", "New Caledonia"),
    ("NE", "Niger"),
    ("NF", "Norfolk Island"),
    ("NG", "Nigeria"),
    ("NI", "Nicaragua"),
    ("NL", "Netherlands (Kingdom of the)"),
    ("NO", "Norway"),
    ("NP", "Nepal"),
    ("NR", "Nauru"),
    ("NU", "Niue"),
    ("NZ", "New Zealand"),
    ("OM", "Oman"),
    ("PA", "Panama"),
    ("PE", "Peru"),
    ("PF", "French Polynesia"),
    ("PG", "Papua New Guinea"),
    ("PH", "Philippines"),
    ("PK", "Pakistan"),
    ("PL", "Poland"),
    ("PM", "Saint Pierre and Miquelon"),
    ("PN", "Pitcairn"),
    ("PR", "Puerto Rico"),
    ("PS", "Palestine, State of"),
    ("PT", "Portugal"),
    ("PW", "Palau"),
    ("PY", "Paraguay"),
    ("QA", "Qatar"),
    ("RE", "Réunion"),
    ("RO", "Romania"),
    ("RS", "Serbia"),
    ("RU", "Russian Federation"),
    ("RW", "Rwanda"),
    ("SA", "Saudi Arabia"),
    ("SB", "Solomon Islands"),
    ("SC", "Seychelles"),
    ("SD", "Sudan"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("SH", "Saint Helena, Ascension and Tristan da Cunha"),
    ("SI", "Slovenia"),
    ("SJ", "Svalbard and Jan Mayen"),
    ("SK", "Slovakia"),
    ("SL", "Sierra Leone"),
    ("SM", "San Marino"),
    ("SN", "Senegal"),
    ("SO", "Somalia"),
    ("SR", "Suriname"),
    ("SS", "South Sudan"),
    ("ST", "Sao Tome and Principe"),
    ("SV", "El Salvador"),
    ("SX", "Sint Maarten (Dutch part)"),
    ("SY", "Syrian Arab Republic"),
    ("SZ", "Eswatini"),
    ("TC", "Turks and Caicos Islands"),
    ("TD", "Chad"),
    ("TF", "French Southern Territories"),
    ("TG", "Togo"),
    ("TH", "Thailand"),
    ("TJ", "Tajikistan"),
    ("TK", "Tokelau"),
    ("TL", "Timor-Leste"),
    ("TM", "Turkmenistan"),
    ("TN", "Tunisia"),
    ("TO", "Tonga"),
    ("TR", "Türkiye"),
    ("TT", "Trinidad and Tobago"),
    ("TV", "Tuvalu"),
    ("TW", "Taiwan, Province of China"),
    ("TZ", "Tanzania, United Republic of"),
    ("UA", "Ukraine"),
    ("UG", "Uganda"),
    ("UM", "United States Minor Outlying Islands"),
    ("US", "United States"),
    ("UY", "Uruguay"),
    ("UZ", "Uzbekistan"),
    ("VA", "Holy See (Vatican City State)"),
    ("VC", "Saint Vincent and the Grenadines"),
    ("VE", "Venezuela, Bolivarian Republic of"),
    ("VG", "Virgin Islands, British"),
    ("VI", "Virgin Islands, U.S."),
    ("VN", "Viet Nam"),
    ("VU", "Vanuatu"),
    ("WF", "Wallis and Futuna"),
    ("WS", "Samoa"),
    ("YE", "Yemen"),
    ("YT", "Mayotte"),
    ("ZA", "South Africa"),
    ("ZM", "Zambia"),
    ("ZW", "Zimbabwe"),
];

/// Every active ISO 4217 alphabetic currency code with its English name,
/// sorted by code so that lookups can use binary search.
///
/// Includes fund codes (`BOV`, `CHE`, `CHW`, `CLF`, `COU`, `MXV`, `USN`,
/// `UYI`, `UYW`), precious metals, SDR, the bond-market units (`XBA`–`XBD`),
/// and the testing and "no currency" codes `XTS` and `XXX`.
///
/// Withdrawn codes left out on purpose:
/// - `ANG` (Netherlands Antillean guilder): replaced by `XCG` (Caribbean
///   guilder) in Curaçao and Sint Maarten, withdrawn in 2025.
/// - `HRK` (Croatian kuna): Croatia adopted the euro on 2023-01-01.
/// - `SLL` (old leone): redenominated as `SLE`.
/// - `VEF` (old bolívar): replaced by `VES` and `VED`.
/// - `CUC` (Cuban convertible peso): withdrawn.
/// - `ZWL` (Zimbabwe dollar): replaced by `ZWG` (Zimbabwe Gold) in 2024.
///
/// `BGN` is still listed although Bulgaria adopted the euro on 2026-01-01:
/// by the rule that removed `HRK` it is due to go, but it is kept until the
/// withdrawal is confirmed against the ISO 4217 amendment.
pub const CURRENCIES: &[(&str, &str)] = &[
    ("AED", "UAE Dirham"),
    ("AFN", "Afghani"),
    ("ALL", "Lek"),
    ("AMD", "Armenian Dram"),
    ("AOA", "Kwanza"),
    ("ARS", "Argentine Peso"),
    ("AUD", "Australian Dollar"),
    ("AWG", "Aruban Florin"),
    ("AZN", "Azerbaijan Manat"),
    ("BAM", "Convertible Mark"),
    ("BBD", "Barbados Dollar"),
    ("BDT", "Taka"),
    ("BGN", "Bulgarian Lev"),
    ("BHD", "Bahraini Dinar"),
    ("BIF", "Burundi Franc"),
    ("BMD", "Bermudian Dollar"),
    ("BND", "Brunei Dollar"),
    ("BOB", "Boliviano"),
    ("BOV", "Mvdol"),
    ("BRL", "Brazilian Real"),
    ("BSD", "Bahamian Dollar"),
    ("BTN", "Ngultrum"),
    ("BWP", "Pula"),
    ("BYN", "Belarusian Ruble"),
    ("BZD", "Belize Dollar"),
    ("CAD", "Canadian Dollar"),
    ("CDF", "Congolese Franc"),
    ("CHE", "WIR Euro"),
    ("CHF", "Swiss Franc"),
    ("CHW", "WIR Franc"),
    ("CLF", "Unidad de Fomento"),
    ("CLP", "Chilean Peso"),
    ("CNY", "Yuan Renminbi"),
    ("COP", "Colombian Peso"),
    ("COU", "Unidad de Valor Real"),
    ("CRC", "Costa Rican Colon"),
    ("CUP", "Cuban Peso"),
    ("CVE", "Cabo Verde Escudo"),
    ("CZK", "Czech Koruna"),
    ("DJF", "Djibouti Franc"),
    ("DKK", "Danish Krone"),
    ("DOP", "Dominican Peso"),
    ("DZD", "Algerian Dinar"),
    ("EGP", "Egyptian Pound"),
    ("ERN", "Nakfa"),
    ("ETB", "Ethiopian Birr"),
    ("EUR", "Euro"),
    ("FJD", "Fiji Dollar"),
    ("FKP", "Falkland Islands Pound"),
    ("GBP", "Pound Sterling"),
    ("GEL", "Lari"),
    ("GHS", "Ghana Cedi"),
    ("GIP", "Gibraltar Pound"),
    ("GMD", "Dalasi"),
    ("GNF", "Guinean Franc"),
    ("GTQ", "Quetzal"),
    ("GYD", "Guyana Dollar"),
    ("HKD", "Hong Kong Dollar"),
    ("HNL", "Lempira"),
    ("HTG", "Gourde"),
    ("HUF", "Forint"),
    ("IDR", "Rupiah"),
    ("ILS", "New Israeli Sheqel"),
    ("INR", "Indian Rupee"),
    ("IQD", "Iraqi Dinar"),
    ("IRR", "Iranian Rial"),
    ("ISK", "Iceland Krona"),
    ("JMD", "Jamaican Dollar"),
    ("JOD", "Jordanian Dinar"),
    ("JPY", "Yen"),
    ("KES", "Kenyan Shilling"),
    ("KGS", "Som"),
    ("KHR", "Riel"),
    ("KMF", "Comorian Franc"),
    ("KPW", "North Korean Won"),
    ("KRW", "Won"),
    ("KWD", "Kuwaiti Dinar"),
    ("KYD", "Cayman Islands Dollar"),
    ("KZT", "Tenge"),
    ("LAK", "Lao Kip"),
    ("LBP", "Lebanese Pound"),
    ("LKR", "Sri Lanka Rupee"),
    ("LRD", "Liberian Dollar"),
    ("LSL", "Loti"),
    ("LYD", "Libyan Dinar"),
    ("MAD", "Moroccan Dirham"),
    ("MDL", "Moldovan Leu"),
    ("MGA", "Malagasy Ariary"),
    ("MKD", "Denar"),
    ("MMK", "Kyat"),
    ("MNT", "Tugrik"),
    ("MOP", "Pataca"),
    ("MRU", "Ouguiya"),
    ("MUR", "Mauritius Rupee"),
    ("MVR", "Rufiyaa"),
    ("MWK", "Malawi Kwacha"),
    ("MXN", "Mexican Peso"),
    ("MXV", "Mexican Unidad de Inversion (UDI)"),
    ("MYR", "Malaysian Ringgit"),
    ("MZN", "Mozambique Metical"),
    ("NAD", "Namibia Dollar"),
    ("NGN", "Naira"),
    ("NIO", "Cordoba Oro"),
    ("NOK", "Norwegian Krone"),
    ("NPR", "Nepalese Rupee"),
    ("NZD", "New Zealand Dollar"),
    ("OMR", "Rial Omani"),
    ("PAB", "Balboa"),
    ("PEN", "Sol"),
    ("PGK", "Kina"),
    ("PHP", "Philippine Peso"),
    ("PKR", "Pakistan Rupee"),
    ("PLN", "Zloty"),
    ("PYG", "Guarani"),
    ("QAR", "Qatari Rial"),
    ("RON", "Romanian Leu"),
    ("RSD", "Serbian Dinar"),
    ("RUB", "Russian Ruble"),
    ("RWF", "Rwanda Franc"),
    ("SAR", "Saudi Riyal"),
    ("SBD", "Solomon Islands Dollar"),
    ("SCR", "Seychelles Rupee"),
    ("SDG", "Sudanese Pound"),
    ("SEK", "Swedish Krona"),
    ("SGD", "Singapore Dollar"),
    ("SHP", "Saint Helena Pound"),
    ("SLE", "Leone"),
    ("SOS", "Somali Shilling"),
    ("SRD", "Surinam Dollar"),
    ("SSP", "South Sudanese Pound"),
    ("STN", "Dobra"),
    ("SVC", "El Salvador Colon"),
    ("SYP", "Syrian Pound"),
    ("SZL", "Lilangeni"),
    ("THB", "Baht"),
    ("TJS", "Somoni"),
    ("TMT", "Turkmenistan New Manat"),
    ("TND", "Tunisian Dinar"),
    ("TOP", "Pa’anga"),
    ("TRY", "Turkish Lira"),
    ("TTD", "Trinidad and Tobago Dollar"),
    ("TWD", "New Taiwan Dollar"),
    ("TZS", "Tanzanian Shilling"),
    ("UAH", "Hryvnia"),
    ("UGX", "Uganda Shilling"),
    ("USD", "US Dollar"),
    ("USN", "US Dollar (Next day)"),
    ("UYI", "Uruguay Peso en Unidades Indexadas (UI)"),
    ("UYU", "Peso Uruguayo"),
    ("UYW", "Unidad Previsional"),
    ("UZS", "Uzbekistan Sum"),
    ("VED", "Bolívar Soberano"),
    ("VES", "Bolívar Soberano"),
    ("VND", "Dong"),
    ("VUV", "Vatu"),
    ("WST", "Tala"),
    ("XAF", "CFA Franc BEAC"),
    ("XAG", "Silver"),
    ("XAU", "Gold"),
    ("XBA", "Bond Markets Unit European Composite Unit (EURCO)"),
    ("XBB", "Bond Markets Unit European Monetary Unit (E.M.U.-6)"),
    (
        "XBC",
        "Bond Markets Unit European Unit of Account 9 (E.U.A.-9)",
    ),
    (
        "XBD",
        "Bond Markets Unit European Unit of Account 17 (E.U.A.-17)",
    ),
    ("XCD", "East Caribbean Dollar"),
    ("XCG", "Caribbean Guilder"),
    ("XDR", "SDR (Special Drawing Right)"),
    ("XOF", "CFA Franc BCEAO"),
    ("XPD", "Palladium"),
    ("XPF", "CFP Franc"),
    ("XPT", "Platinum"),
    ("XSU", "Sucre"),
    ("XTS", "Codes specifically reserved for testing purposes"),
    ("XUA", "ADB Unit of Account"),
    (
        "XXX",
        "The codes assigned for transactions where no currency is involved",
    ),
    ("YER", "Yemeni Rial"),
    ("ZAR", "Rand"),
    ("ZMW", "Zambian Kwacha"),
    ("ZWG", "Zimbabwe Gold"),
];

/// Looks a code up in a table sorted by code.
fn lookup(table: &'static [(&'static str, &'static str)], code: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(entry, _)| (*entry).cmp(code))
        .ok()
        .and_then(|index| table.get(index))
        .map(|(_, name)| *name)
}

/// The English short name of an ISO 3166-1 alpha-2 country code.
///
/// The match is exact: `"de"` and `" DE"` are not found, only `"DE"` is.
#[must_use]
pub fn country_name(code: &str) -> Option<&'static str> {
    lookup(COUNTRIES, code)
}

/// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code (exact,
/// upper-case match).
#[must_use]
pub fn is_country(code: &str) -> bool {
    country_name(code).is_some()
}

/// The English name of an active ISO 4217 alphabetic currency code.
///
/// The match is exact: `"eur"` is not found, only `"EUR"` is.
#[must_use]
pub fn currency_name(code: &str) -> Option<&'static str> {
    lookup(CURRENCIES, code)
}

/// Whether `code` is an active ISO 4217 alphabetic currency code (exact,
/// upper-case match).
#[must_use]
pub fn is_currency(code: &str) -> bool {
    currency_name(code).is_some()
}

/// Number of characters in an LEI.
const LEI_LEN: usize = 20;

/// Why a string is not a valid ISO 17442 legal entity identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeiError {
    /// The string does not have 20 characters; carries the number it has.
    #[error("an LEI has 20 characters, this has {0}")]
    Length(usize),
    /// A character outside `A`–`Z` and `0`–`9`; `position` counts from 1.
    #[error("character {found:?} at position {position} is not an upper-case letter or digit")]
    Character {
        /// Position of the character, counting from 1 as people do.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The MOD 97-10 check fails, or the last two characters are not digits
    /// (then they cannot be check digits either).
    #[error("the check digits do not match (ISO 7064 MOD 97-10)")]
    CheckDigits,
}

/// The ISO 7064 value of an LEI character: `0`–`9` are 0–9, `A`–`Z` are
/// 10–35. Anything else (including lower case) has none.
fn char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' | 'A'..='Z' => c.to_digit(36),
        _ => None,
    }
}

/// Folds characters into the running MOD 97 remainder of the decimal string
/// they expand to (letters expand to two digits).
fn mod97(values: impl IntoIterator<Item = u32>) -> u32 {
    values.into_iter().fold(0, |rem, value| {
        let scale = if value < 10 { 10 } else { 100 };
        (rem * scale + value) % 97
    })
}

/// Checks an ISO 17442 legal entity identifier: 20 characters, upper-case
/// `A`–`Z` and `0`–`9` only, the last two digits, and the ISO 7064 MOD 97-10
/// check over the whole string equal to 1.
///
/// # Errors
///
/// [`LeiError::Length`] when the string does not have 20 characters,
/// [`LeiError::Character`] for the first character that is not an upper-case
/// letter or digit, and [`LeiError::CheckDigits`] when the last two
/// characters are not digits or the check fails.
pub fn lei_check(lei: &str) -> Result<(), LeiError> {
    let len = lei.chars().count();
    if len != LEI_LEN {
        return Err(LeiError::Length(len));
    }
    let mut values = Vec::with_capacity(LEI_LEN);
    for (index, found) in lei.chars().enumerate() {
        let value = char_value(found).ok_or(LeiError::Character {
            position: index + 1,
            found,
        })?;
        values.push(value);
    }
    if !values.iter().skip(LEI_LEN - 2).all(|&value| value < 10) {
        return Err(LeiError::CheckDigits);
    }
    if mod97(values) == 1 {
        Ok(())
    } else {
        Err(LeiError::CheckDigits)
    }
}

/// Completes an 18-character LEI prefix (LOU prefix and entity part) with its
/// two ISO 7064 MOD 97-10 check digits, for tests and fixtures.
///
/// Returns `None` unless the prefix has exactly 18 upper-case letters or
/// digits.
#[must_use]
pub fn lei_with_check_digits(prefix18: &str) -> Option<String> {
    if prefix18.chars().count() != LEI_LEN - 2 {
        return None;
    }
    let values = prefix18
        .chars()
        .map(char_value)
        .collect::<Option<Vec<u32>>>()?;
    // Appending "00" multiplies by 100; 98 minus that remainder makes the
    // whole number congruent to 1 modulo 97.
    let check = 98 - mod97(values.into_iter().chain([0, 0]));
    Some(format!("{prefix18}{check:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors the registry's first LEI and country checks were held to.
    #[test]
    fn the_registry_s_first_vectors_hold() {
        assert!(lei_check("506700GE1G29325QX363").is_ok());
        assert!(lei_check("506700GE1G29325QX364").is_err());
        assert!(lei_check("506700ge1g29325qx363").is_err());
        assert!(lei_check("506700").is_err());
        assert!(is_country("NL"));
        assert!(!is_country("nl"));
        assert!(!is_country("NLD"));
    }

    fn assert_sorted_unique(table: &[(&str, &str)]) {
        for pair in table.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{} must come before {} (sorted, no duplicates)",
                pair[0].0,
                pair[1].0
            );
        }
    }

    #[test]
    fn tables_are_sorted_without_duplicates() {
        assert_sorted_unique(COUNTRIES);
        assert_sorted_unique(CURRENCIES);
    }

    #[test]
    fn codes_have_the_right_shape() {
        for (code, name) in COUNTRIES {
            assert!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(!name.is_empty(), "{code}");
        }
        for (code, name) in CURRENCIES {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(!name.is_empty(), "{code}");
        }
    }

    #[test]
    fn there_are_249_countries() {
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn currency_count_is_current() {
        // 2023 iso-codes list (181) minus ANG, CUC, HRK, SLL, ZWL plus XCG, ZWG.
        assert_eq!(CURRENCIES.len(), 178);
    }

    #[test]
    fn country_spot_checks() {
        for code in [
            "DE", "FR", "NL", "GB", "US", "LU", "IE", "CH", "CW", "SX", "BQ", "SS",
        ] {
            assert!(is_country(code), "{code} should be a country");
        }
        assert_eq!(country_name("DE"), Some("Germany"));
        assert_eq!(country_name("CW"), Some("Curaçao"));
        assert!(!is_country("XK"), "XK is user-assigned, not official");
        assert!(
            !is_country("AN"),
            "Netherlands Antilles was deleted in 2010"
        );
        assert!(!is_country("UK"), "UK is only exceptionally reserved");
        assert!(!is_country("de"), "match is exact upper case");
        assert!(!is_country(""));
        assert!(!is_country("DEU"));
    }

    #[test]
    fn currency_spot_checks() {
        for code in [
            "EUR", "USD", "GBP", "CHF", "PLN", "SEK", "DKK", "CZK", "HUF", "RON", "BGN", "ISK",
            "NOK", "XCG", "VED", "SLE", "XXX", "XTS", "UYW", "ZWG",
        ] {
            assert!(is_currency(code), "{code} should be a currency");
        }
        assert_eq!(currency_name("EUR"), Some("Euro"));
        for code in ["HRK", "ANG", "SLL", "VEF", "CUC", "ZWL", "eur", "EU", ""] {
            assert!(!is_currency(code), "{code} should not be a currency");
        }
    }

    /// Independent reference: the whole string as one big decimal number,
    /// reduced digit by digit, as ISO 7064 describes it.
    fn reference_mod97(lei: &str) -> u32 {
        let digits: String = lei
            .chars()
            .map(|c| c.to_digit(36).unwrap().to_string())
            .collect();
        digits
            .bytes()
            .fold(0, |rem, b| (rem * 10 + u32::from(b - b'0')) % 97)
    }

    const VALID: [&str; 5] = [
        "5493001KJTIIGC8Y1R12", // Bloomberg Finance L.P.
        "7LTWFZYICNSX8D621K86", // Deutsche Bank AG
        "529900T8BM49AURSDO55", // Deutsche Börse AG
        "HWUPKR0MPOU8FGXBT394", // Apple Inc.
        "213800WSGIIZCXF1P572",
    ];

    #[test]
    fn published_leis_are_valid() {
        for lei in VALID {
            assert_eq!(reference_mod97(lei), 1, "{lei}");
            assert_eq!(lei_check(lei), Ok(()), "{lei}");
        }
    }

    #[test]
    fn one_changed_character_fails() {
        assert_eq!(
            lei_check("5493001KJTIIGC8Y1R13"),
            Err(LeiError::CheckDigits)
        );
        assert_eq!(
            lei_check("7LTWFZYICNSX8D621K87"),
            Err(LeiError::CheckDigits)
        );
        assert_eq!(
            lei_check("529900T8BM49AURSDP55"),
            Err(LeiError::CheckDigits)
        );
        // Every substitution of a digit by a digit or a letter by a letter is
        // caught: the expanded number changes by d * 10^k with 0 < |d| < 97.
        // A letter swapped for a digit changes the expansion's length and is
        // caught only with high probability, not always (e.g. changing the
        // seventh character of 5493001KJTIIGC8Y1R12 from '1' to 'L' still
        // passes), so those are not asserted here.
        for lei in VALID {
            for (i, original) in lei.char_indices() {
                let same_class: Vec<char> = if original.is_ascii_digit() {
                    ('0'..='9').collect()
                } else {
                    ('A'..='Z').collect()
                };
                for replacement in same_class {
                    if replacement == original {
                        continue;
                    }
                    let mut altered = lei.to_owned();
                    altered.replace_range(i..=i, &replacement.to_string());
                    assert!(lei_check(&altered).is_err(), "{altered}");
                }
            }
        }
    }

    #[test]
    fn the_checksum_is_not_a_registry_lookup() {
        // MOD 97-10 over letters expanded to two digits misses some
        // letter-for-digit substitutions: this altered Bloomberg LEI passes.
        // Whether an LEI is issued is a question for GLEIF, not for this check.
        assert_eq!(lei_check("549300LKJTIIGC8Y1R12"), Ok(()));
    }

    #[test]
    fn swapped_adjacent_characters_fail() {
        assert_eq!(
            lei_check("4593001KJTIIGC8Y1R12"),
            Err(LeiError::CheckDigits)
        );
        assert_eq!(
            lei_check("5493001KJTIIGC8Y1R21"),
            Err(LeiError::CheckDigits)
        );
        assert_eq!(
            lei_check("7LTWFZYICNSX8D621K68"),
            Err(LeiError::CheckDigits)
        );
    }

    #[test]
    fn letters_in_check_positions_fail() {
        assert_eq!(
            lei_check("5493001KJTIIGC8Y1RAB"),
            Err(LeiError::CheckDigits)
        );
    }

    #[test]
    fn lower_case_is_refused_with_its_position() {
        assert_eq!(
            lei_check("5493001kJTIIGC8Y1R12"),
            Err(LeiError::Character {
                position: 8,
                found: 'k'
            })
        );
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert_eq!(lei_check("5493001KJTIIGC8Y1R1"), Err(LeiError::Length(19)));
        assert_eq!(
            lei_check("5493001KJTIIGC8Y1R123"),
            Err(LeiError::Length(21))
        );
        assert_eq!(lei_check(""), Err(LeiError::Length(0)));
        // Characters, not bytes: 20 characters with a two-byte 'Ö'.
        assert_eq!(
            lei_check("529900T8BM49AURSDÖ55"),
            Err(LeiError::Character {
                position: 18,
                found: 'Ö'
            })
        );
    }

    #[test]
    fn a_dash_is_refused() {
        assert_eq!(
            lei_check("5493-01KJTIIGC8Y1R12"),
            Err(LeiError::Character {
                position: 5,
                found: '-'
            })
        );
    }

    #[test]
    fn messages_name_the_evidence() {
        assert_eq!(
            LeiError::Length(19).to_string(),
            "an LEI has 20 characters, this has 19"
        );
        assert_eq!(
            LeiError::Character {
                position: 5,
                found: '-'
            }
            .to_string(),
            "character '-' at position 5 is not an upper-case letter or digit"
        );
        assert_eq!(
            LeiError::CheckDigits.to_string(),
            "the check digits do not match (ISO 7064 MOD 97-10)"
        );
    }

    #[test]
    fn computed_check_digits_make_valid_leis() {
        for lei in VALID {
            assert_eq!(lei_with_check_digits(&lei[..18]).as_deref(), Some(lei));
        }
        for prefix in [
            "SUPPLYWATCHTEST000",
            "000000000000000000",
            "ZZZZZZZZZZZZZZZZZZ",
        ] {
            let lei = lei_with_check_digits(prefix).unwrap();
            assert_eq!(lei_check(&lei), Ok(()), "{lei}");
            assert_eq!(reference_mod97(&lei), 1, "{lei}");
            // Cross-check against the textbook formula 98 - (n * 100 mod 97).
            let expected = 98 - reference_mod97(&format!("{prefix}00"));
            assert_eq!(lei[18..].parse::<u32>().unwrap(), expected, "{lei}");
        }
        assert_eq!(
            lei_with_check_digits("000000000000000000").as_deref(),
            Some("00000000000000000098")
        );
        assert_eq!(
            lei_with_check_digits("SUPPLYWATCHTEST000").as_deref(),
            Some("SUPPLYWATCHTEST00007")
        );
    }

    #[test]
    fn bad_prefixes_get_no_check_digits() {
        assert_eq!(lei_with_check_digits("5493001KJTIIGC8Y1"), None);
        assert_eq!(lei_with_check_digits("5493001KJTIIGC8Y1R1"), None);
        assert_eq!(lei_with_check_digits("5493001kJTIIGC8Y1R"), None);
        assert_eq!(lei_with_check_digits("5493-01KJTIIGC8Y1R"), None);
    }
}
