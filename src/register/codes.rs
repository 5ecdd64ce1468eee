//! The EBA code lists of the Register of Information, with the words the
//! config takes for them. A config value may be the word
//! (`service = "cloud-saas"`), the bare code (`"S19"`) or the prefixed one
//! (`"eba_TA:S19"`); the export always writes the prefixed code.

/// One value of a closed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// What the config says.
    pub word: &'static str,
    /// What the export writes.
    pub code: &'static str,
    /// What the EBA calls it.
    pub label: &'static str,
}

const fn c(word: &'static str, code: &'static str, label: &'static str) -> Code {
    Code { word, code, label }
}

/// `eba_BT:x28`.
pub const YES: &str = "eba_BT:x28";
/// `eba_BT:x29`.
pub const NO: &str = "eba_BT:x29";
/// `eba_BT:x21`: assessment not performed.
pub const NOT_ASSESSED: &str = "eba_BT:x21";
/// `eba_GA:qx2007`: "not applicable" where a country is a key.
pub const COUNTRY_NOT_APPLICABLE: &str = "eba_GA:qx2007";
/// The literal the FAQ asks for in a free-text key with nothing to say.
pub const NOT_APPLICABLE: &str = "Not Applicable";
/// `eba_qCO:qx2000`: an LEI.
pub const ID_LEI: &str = "eba_qCO:qx2000";
/// `eba_qCO:qx2002`: an EUID.
pub const ID_EUID: &str = "eba_qCO:qx2002";
/// `eba_ZZ:x838` / `x839`: a branch, or not.
pub const BRANCH: &str = "eba_ZZ:x838";
pub const NOT_BRANCH: &str = "eba_ZZ:x839";
/// `eba_CO:x3`: a subsequent or associated arrangement.
pub const SUBSEQUENT: &str = "eba_CO:x3";
/// `eba_ZZ:x959` / `x960`: substitutability that needs a reason.
pub const NOT_SUBSTITUTABLE: &str = "eba_ZZ:x959";
pub const HIGHLY_COMPLEX: &str = "eba_ZZ:x960";

/// LIST0101040, the type of an entity (B_01.01, B_01.02).
pub const ENTITY_TYPES: &[Code] = &[
    c("credit-institution", "eba_CT:x12", "Credit institutions"),
    c("investment-firm", "eba_CT:x599", "Investment firms"),
    c("ccp", "eba_CT:x643", "Central counterparties (CCPs)"),
    c("asset-manager", "eba_CT:x639", "Asset management companies"),
    c("payment-institution", "eba_CT:x300", "Payment institution"),
    c(
        "account-information",
        "eba_CT:x301",
        "Account information service providers",
    ),
    c(
        "e-money-institution",
        "eba_CT:x302",
        "Electronic money institutions",
    ),
    c(
        "crypto-asset-provider",
        "eba_CT:x303",
        "Crypto-asset service providers",
    ),
    c("csd", "eba_CT:x304", "Central security depository"),
    c("trading-venue", "eba_CT:x305", "Trading venues"),
    c("trade-repository", "eba_CT:x306", "Trade repositories"),
    c(
        "aifm",
        "eba_CT:x307",
        "Managers of alternative investment funds",
    ),
    c(
        "data-reporting",
        "eba_CT:x308",
        "Data reporting service providers",
    ),
    c(
        "insurer",
        "eba_CT:x309",
        "Insurance and reinsurance undertakings",
    ),
    c(
        "art-issuer",
        "eba_CT:x310",
        "Issuers of asset-referenced tokens",
    ),
    c(
        "iorp",
        "eba_CT:x311",
        "Institutions for occupational retirement provision",
    ),
    c(
        "credit-rating-agency",
        "eba_CT:x312",
        "Credit rating agency",
    ),
    c(
        "benchmark-administrator",
        "eba_CT:x313",
        "Administrator of critical benchmarks",
    ),
    c(
        "crowdfunding",
        "eba_CT:x314",
        "Crowdfunding service providers",
    ),
    c(
        "securitisation-repository",
        "eba_CT:x315",
        "Securitisation repository",
    ),
    c("other-financial", "eba_CT:x316", "Other financial entity"),
    c(
        "ict-intra-group",
        "eba_CT:x317",
        "Non-financial entity: ICT intra-group service provider",
    ),
    c(
        "non-financial",
        "eba_CT:x318",
        "Non-financial entity: Other than ICT intra-group service provider",
    ),
    c(
        "insurance-intermediary",
        "eba_CT:x320",
        "Insurance intermediaries, reinsurance intermediaries and ancillary insurance intermediaries",
    ),
];

/// The entity types that are not financial entities (no total assets).
pub const NON_FINANCIAL: [&str; 2] = ["eba_CT:x317", "eba_CT:x318"];

/// LIST0102050, an entity's place in the group (B_01.02 c0050).
pub const HIERARCHY: &[Code] = &[
    c("ultimate-parent", "eba_RP:x53", "Ultimate parent"),
    c("parent", "eba_RP:x551", "Parent other than ultimate parent"),
    c("subsidiary", "eba_RP:x56", "Subsidiary"),
    c(
        "outside-group",
        "eba_RP:x21",
        "Entities other than entities of the group",
    ),
    c("outsourcing", "eba_RP:x210", "Outsourcing"),
];

/// LIST0201020, the type of an arrangement (B_02.01 c0020).
pub const ARRANGEMENTS: &[Code] = &[
    c("standalone", "eba_CO:x1", "Standalone arrangement"),
    c("overarching", "eba_CO:x2", "Overarching arrangement"),
    c(
        "subsequent",
        "eba_CO:x3",
        "Subsequent or associated arrangement",
    ),
];

/// LIST0202090, why an arrangement ended (B_02.02 c0090).
pub const TERMINATIONS: &[Code] = &[
    c(
        "expired",
        "eba_CO:x4",
        "Termination not for cause: Expired and not renewed",
    ),
    c(
        "provider-breach",
        "eba_CO:x5",
        "Termination for cause: Provider in breach of applicable law, regulations or contractual provisions",
    ),
    c(
        "provider-impediment",
        "eba_CO:x6",
        "Termination for cause: Identified impediments of the provider capable of altering the supported function",
    ),
    c(
        "provider-data-weakness",
        "eba_CO:x7",
        "Termination for cause: Provider's weaknesses regarding the management and security of sensitive data or information",
    ),
    c(
        "authority-request",
        "eba_CO:x8",
        "Termination: As requested by the competent authority",
    ),
    c("other", "eba_CO:x9", "Other reasons for termination"),
];

/// LISTANNEXIII, the type of an ICT service.
pub const SERVICE_TYPES: &[Code] = &[
    c("project-management", "eba_TA:S01", "ICT project management"),
    c("development", "eba_TA:S02", "ICT Development"),
    c(
        "help-desk",
        "eba_TA:S03",
        "ICT help desk and first level support",
    ),
    c(
        "security-management",
        "eba_TA:S04",
        "ICT security management services",
    ),
    c("data-provision", "eba_TA:S05", "Provision of data"),
    c("data-analysis", "eba_TA:S06", "Data analysis"),
    c(
        "hosting",
        "eba_TA:S07",
        "ICT, facilities and hosting services (excluding Cloud services)",
    ),
    c("computation", "eba_TA:S08", "Computation"),
    c("data-storage", "eba_TA:S09", "Non-Cloud Data storage"),
    c("telecom-carrier", "eba_TA:S10", "Telecom carrier"),
    c("network", "eba_TA:S11", "Network infrastructure"),
    c("hardware", "eba_TA:S12", "Hardware and physical devices"),
    c(
        "software-licence",
        "eba_TA:S13",
        "Software licencing (excluding SaaS)",
    ),
    c(
        "operations",
        "eba_TA:S14",
        "ICT operation management (including maintenance)",
    ),
    c("consulting", "eba_TA:S15", "ICT Consulting"),
    c("risk-management", "eba_TA:S16", "ICT Risk management"),
    c("cloud-iaas", "eba_TA:S17", "Cloud services: IaaS"),
    c("cloud-paas", "eba_TA:S18", "Cloud services: PaaS"),
    c("cloud-saas", "eba_TA:S19", "Cloud services: SaaS"),
];

/// LIST0202170, how sensitive the stored data is.
pub const SENSITIVENESS: &[Code] = &[
    c("low", "eba_ZZ:x791", "Low"),
    c("medium", "eba_ZZ:x792", "Medium"),
    c("high", "eba_ZZ:x793", "High"),
];

/// LIST0202180, the level of reliance on a service.
pub const RELIANCE: &[Code] = &[
    c("not-significant", "eba_ZZ:x794", "Not significant"),
    c("low", "eba_ZZ:x795", "Low reliance"),
    c("material", "eba_ZZ:x796", "Material reliance"),
    c("full", "eba_ZZ:x797", "Full reliance"),
];

/// LIST0601100, the impact of discontinuing a function or a service.
pub const IMPACT: &[Code] = &[
    c("low", "eba_ZZ:x791", "Low"),
    c("medium", "eba_ZZ:x792", "Medium"),
    c("high", "eba_ZZ:x793", "High"),
    c("not-assessed", "eba_ZZ:x799", "Assessment not performed"),
];

/// LIST0601050: yes, no, or not assessed (criticality, alternatives).
pub const YES_NO_NOT_ASSESSED: &[Code] = &[
    c("yes", YES, "Yes"),
    c("no", NO, "No"),
    c("not-assessed", NOT_ASSESSED, "Assessment not performed"),
];

/// LIST0701050, how substitutable a provider is.
pub const SUBSTITUTABILITY: &[Code] = &[
    c("not-substitutable", NOT_SUBSTITUTABLE, "Not substitutable"),
    c(
        "highly-complex",
        HIGHLY_COMPLEX,
        "Highly complex substitutability",
    ),
    c(
        "medium",
        "eba_ZZ:x961",
        "Medium complexity in terms of substitutability",
    ),
    c("easy", "eba_ZZ:x962", "Easily substitutable"),
];

/// LIST0701060, why a provider is hard to substitute.
pub const SUBSTITUTABILITY_REASONS: &[Code] = &[
    c(
        "no-alternatives",
        "eba_ZZ:x963",
        "Lack of real alternatives",
    ),
    c(
        "migration",
        "eba_ZZ:x964",
        "Difficulties in migrating or reintegrating",
    ),
    c(
        "both",
        "eba_ZZ:x965",
        "Lack of real alternatives and difficulties in migrating or reintegrating",
    ),
];

/// LIST0701090, whether a service could be brought back in-house.
pub const REINTEGRATION: &[Code] = &[
    c("easy", "eba_ZZ:x798", "Easy"),
    c("difficult", "eba_ZZ:x966", "Difficult"),
    c("highly-complex", "eba_ZZ:x967", "Highly complex"),
];

/// LIST0501040, the type of person of a provider.
pub const PERSON: &[Code] = &[
    c(
        "legal",
        "eba_CT:x212",
        "Legal person, excluding individual acting in a business capacity",
    ),
    c(
        "individual",
        "eba_CT:x213",
        "Individual acting in a business capacity",
    ),
];

/// LIST0601020, the licensed activities (B_06.01 c0020). The config names
/// them by code (`"x162"` or `"eba_TA:x162"`), or by one of the words
/// given here for the common ones.
pub const ACTIVITIES: &[Code] = &[
    c(
        "deposits",
        "eba_TA:x162",
        "Taking deposits and other repayable funds",
    ),
    c("lending", "eba_TA:x163", "Lending activities"),
    c("leasing", "eba_TA:x164", "Financial leasing"),
    c(
        "means-of-payment",
        "eba_TA:x165",
        "Issuing and administering other means of payment",
    ),
    c("guarantees", "eba_TA:x166", "Guarantees and commitments"),
    c(
        "guarantees-securities-lending",
        "eba_TA:x167",
        "Guarantees and commitments related to securities lending",
    ),
    c(
        "trading",
        "eba_TA:x168",
        "Trading for own account or for account of customers",
    ),
    c(
        "securities-issues",
        "eba_TA:x169",
        "Participation in securities issues",
    ),
    c(
        "credit-to-investors",
        "eba_TA:x143",
        "Granting credits or loans to investors",
    ),
    c("payment-services", "eba_TA:x28", "Payment services"),
    c("e-money", "eba_TA:x180", "Issuing electronic money"),
    c(
        "cash-placement",
        "eba_TA:x220",
        "Services enabling cash to be placed on a payment account",
    ),
    c(
        "cash-withdrawal",
        "eba_TA:x221",
        "Services enabling cash withdrawals from a payment account",
    ),
    c(
        "payment-execution",
        "eba_TA:x222",
        "Execution of payment transactions",
    ),
    c(
        "payment-execution-credit-line",
        "eba_TA:x223",
        "Execution of payment transactions covered by a credit line",
    ),
    c(
        "payment-instruments",
        "eba_TA:x224",
        "Issuing of payment instruments and/or acquiring of payment transactions",
    ),
    c("money-remittance", "eba_TA:x225", "Money remittance"),
    c(
        "payment-initiation",
        "eba_TA:x226",
        "Payment initiation services",
    ),
    c(
        "account-information",
        "eba_TA:x227",
        "Account information services",
    ),
    c(
        "order-transmission",
        "eba_TA:x133",
        "Reception and transmission of orders",
    ),
    c(
        "order-execution",
        "eba_TA:x134",
        "Execution of orders on behalf of clients",
    ),
    c(
        "portfolio-management",
        "eba_TA:x136",
        "Portfolio management",
    ),
    c("investment-advice", "eba_TA:x137", "Investment advice"),
    c(
        "underwriting",
        "eba_TA:x138",
        "Underwriting or placing on a firm commitment basis",
    ),
    c(
        "placing",
        "eba_TA:x139",
        "Placing without a firm commitment basis",
    ),
    c("mtf", "eba_TA:x140", "Operation of an MTF"),
    c("otf", "eba_TA:x141", "Operation of an OTF"),
    c(
        "capital-structure-advice",
        "eba_TA:x144",
        "Advice on capital structure, industrial strategy, mergers and acquisitions",
    ),
    c(
        "investment-research",
        "eba_TA:x146",
        "Investment research and financial analysis",
    ),
    c(
        "underwriting-services",
        "eba_TA:x147",
        "Services related to underwriting",
    ),
    c("advisory", "eba_TA:x170", "Advisory services"),
    c("money-broking", "eba_TA:x171", "Money broking"),
    c(
        "portfolio-management-advice",
        "eba_TA:x172",
        "Portfolio management and advice",
    ),
    c(
        "dealing-own-account",
        "eba_TA:x173",
        "Dealing on own account",
    ),
    c(
        "derivatives-underlying",
        "eba_TA:x204",
        "Investment services related to the underlying of derivatives",
    ),
    c(
        "regulated-market",
        "eba_TA:x230",
        "Operation of a Regulated Market",
    ),
    c(
        "investment-advice-mifid1",
        "eba_TA:x274",
        "Investment advice (Annex I Section C of Directive 2004/39/EC)",
    ),
    c(
        "safekeeping-securities",
        "eba_TA:x174",
        "Safekeeping and administration of securities",
    ),
    c(
        "safekeeping-instruments",
        "eba_TA:x175",
        "Safekeeping and administration of financial instruments for the account of clients",
    ),
    c(
        "safekeeping-ciu",
        "eba_TA:x176",
        "Safekeeping and administration in relation to shares or units of collective investment undertakings",
    ),
    c(
        "safekeeping-ciu-non-core",
        "eba_TA:x177",
        "Safekeeping and administration of units of collective investment undertakings (non-core)",
    ),
    c("safe-custody", "eba_TA:x178", "Safe custody services"),
    c(
        "crypto-orders",
        "eba_TA:x181",
        "Reception and transmission of orders for crypto-assets",
    ),
    c(
        "crypto-portfolio",
        "eba_TA:x182",
        "Portfolio management on crypto-assets",
    ),
    c(
        "crypto-custody",
        "eba_TA:x228",
        "Custody and administration of crypto-assets",
    ),
    c(
        "crypto-platform",
        "eba_TA:x229",
        "Operation of a trading platform for crypto-assets",
    ),
    c(
        "crypto-exchange-funds",
        "eba_TA:x231",
        "Exchange of crypto-assets for funds",
    ),
    c(
        "crypto-exchange",
        "eba_TA:x232",
        "Exchange of crypto-assets for other crypto-assets",
    ),
    c(
        "crypto-execution",
        "eba_TA:x233",
        "Execution of orders for crypto-assets",
    ),
    c("crypto-placing", "eba_TA:x234", "Placing of crypto-assets"),
    c(
        "crypto-advice",
        "eba_TA:x235",
        "Providing advice on crypto-assets",
    ),
    c(
        "crypto-transfer",
        "eba_TA:x236",
        "Providing transfer services for crypto-assets",
    ),
    c(
        "art-issuance",
        "eba_TA:x237",
        "Issuance of asset-referenced tokens",
    ),
    c(
        "aif-management",
        "eba_TA:x183",
        "Portfolio management (AIFMD)",
    ),
    c(
        "ucits-management",
        "eba_TA:x184",
        "Portfolio management (UCITSD)",
    ),
    c(
        "unit-register",
        "eba_TA:x265",
        "Maintenance of unit-/shareholder register",
    ),
    c(
        "unit-issues",
        "eba_TA:x266",
        "Unit/shares issues and redemptions",
    ),
    c(
        "unit-holder-register",
        "eba_TA:x267",
        "Maintenance of unit-holder register",
    ),
    c(
        "unit-redemptions",
        "eba_TA:x268",
        "Unit issues and redemptions",
    ),
    c(
        "contract-settlements",
        "eba_TA:x269",
        "Contract settlements",
    ),
    c(
        "income-distribution",
        "eba_TA:x270",
        "Distribution of income",
    ),
    c("record-keeping", "eba_TA:x271", "Record keeping"),
    c("marketing", "eba_TA:x272", "Marketing"),
    c(
        "aifm-fiduciary",
        "eba_TA:x273",
        "Fiduciary duties of the AIFM",
    ),
    c("fund-ancillary", "eba_TA:x275", "Ancillary services"),
    c(
        "insurance-accident-health",
        "eba_TA:x185",
        "Non-life insurance: accident and health",
    ),
    c(
        "insurance-motor",
        "eba_TA:x186",
        "Non-life insurance: motor",
    ),
    c(
        "insurance-marine",
        "eba_TA:x187",
        "Non-life insurance: marine and transport",
    ),
    c(
        "insurance-aviation",
        "eba_TA:x188",
        "Non-life insurance: aviation",
    ),
    c(
        "insurance-property",
        "eba_TA:x189",
        "Non-life insurance: fire and other damage to property",
    ),
    c(
        "insurance-liability",
        "eba_TA:x190",
        "Non-life insurance: liability",
    ),
    c(
        "insurance-credit",
        "eba_TA:x191",
        "Non-life insurance: credit and suretyship",
    ),
    c(
        "insurance-all-classes",
        "eba_TA:x192",
        "Non-life insurance: all classes",
    ),
    c(
        "life-insurance",
        "eba_TA:x193",
        "Life insurance (Art. 2(3)(a)(i)-(iii))",
    ),
    c(
        "life-marriage-birth",
        "eba_TA:x194",
        "Marriage and birth assurance",
    ),
    c(
        "life-investment-linked",
        "eba_TA:x195",
        "Life insurance linked to investment funds",
    ),
    c(
        "life-permanent-health",
        "eba_TA:x196",
        "Permanent health insurance",
    ),
    c("life-tontines", "eba_TA:x197", "Tontines"),
    c(
        "life-capital-redemption",
        "eba_TA:x198",
        "Capital redemption operations",
    ),
    c(
        "life-group-pension",
        "eba_TA:x199",
        "Management of group pension funds",
    ),
    c(
        "life-b-v",
        "eba_TA:x200",
        "Operations referred to in Art. 2(3)(b)(v)",
    ),
    c(
        "life-c",
        "eba_TA:x201",
        "Operations referred to in Art. 2(3)(c)",
    ),
    c(
        "insurance-distribution",
        "eba_TA:x202",
        "Insurance distribution",
    ),
    c(
        "reinsurance-distribution",
        "eba_TA:x203",
        "Reinsurance distribution",
    ),
    c("csd-notary", "eba_TA:x238", "Notary service"),
    c(
        "csd-central-maintenance",
        "eba_TA:x239",
        "Central maintenance service",
    ),
    c("csd-settlement", "eba_TA:x240", "Settlement service"),
    c(
        "csd-securities-lending",
        "eba_TA:x241",
        "Securities lending mechanism",
    ),
    c("csd-collateral", "eba_TA:x242", "Collateral management"),
    c(
        "csd-general-collateral",
        "eba_TA:x243",
        "General collateral management",
    ),
    c(
        "csd-links",
        "eba_TA:x244",
        "CSD links and securities accounts",
    ),
    c(
        "csd-matching",
        "eba_TA:x245",
        "Settlement matching and instruction routing",
    ),
    c("csd-registers", "eba_TA:x246", "Shareholders' registers"),
    c(
        "csd-corporate-actions",
        "eba_TA:x247",
        "Corporate actions processing",
    ),
    c(
        "csd-new-issues",
        "eba_TA:x248",
        "New issue services and ISIN allocation",
    ),
    c(
        "csd-routing",
        "eba_TA:x249",
        "Instruction routing and fee processing",
    ),
    c(
        "csd-cash-accounts",
        "eba_TA:x253",
        "Cash accounts and deposits",
    ),
    c(
        "csd-cash-credit",
        "eba_TA:x254",
        "Cash credit and securities lending",
    ),
    c(
        "csd-payment-services",
        "eba_TA:x255",
        "Payment services for cash and foreign exchange",
    ),
    c("csd-treasury", "eba_TA:x256", "Treasury activities"),
    c(
        "csd-non-banking-ancillary",
        "eba_TA:x257",
        "Other non-banking-type ancillary services",
    ),
    c(
        "csd-banking-ancillary",
        "eba_TA:x258",
        "Other banking-type ancillary services",
    ),
    c(
        "foreign-exchange",
        "eba_TA:x104",
        "Foreign exchange services",
    ),
    c(
        "credit-reference",
        "eba_TA:x179",
        "Credit reference services",
    ),
    c(
        "retirement-benefits",
        "eba_TA:x205",
        "Retirement-benefit operations",
    ),
    c(
        "credit-ratings",
        "eba_TA:x206",
        "Issuance of credit ratings",
    ),
    c(
        "benchmark-administration",
        "eba_TA:x207",
        "Administering the arrangements for determining a benchmark",
    ),
    c(
        "benchmark-input",
        "eba_TA:x208",
        "Collecting and processing input data for a benchmark",
    ),
    c(
        "benchmark-determination",
        "eba_TA:x209",
        "Determining a benchmark",
    ),
    c(
        "benchmark-publication",
        "eba_TA:x210",
        "Publication of a benchmark",
    ),
    c("crowdfunding", "eba_TA:x211", "Crowdfunding services"),
    c(
        "non-securitisation-ancillary",
        "eba_TA:x212",
        "Ancillary non-securitisation services",
    ),
    c(
        "securitisation-ancillary",
        "eba_TA:x213",
        "Ancillary securitisation services",
    ),
    c(
        "derivative-records",
        "eba_TA:x214",
        "Records of derivatives other than SFTs",
    ),
    c("sft-records", "eba_TA:x215", "Records of SFTs"),
    c(
        "securitisation-records",
        "eba_TA:x216",
        "Records of securitisations",
    ),
    c("apa", "eba_TA:x217", "Approved publication arrangement"),
    c("ctp", "eba_TA:x218", "Consolidated tape provider"),
    c("arm", "eba_TA:x219", "Approved reporting mechanism"),
    c(
        "regulatory-reporting",
        "eba_TA:x250",
        "Regulatory reporting",
    ),
    c(
        "statistics-reporting",
        "eba_TA:x251",
        "Providing information and statistics to bureaus and governmental entities",
    ),
    c("it-services", "eba_TA:x252", "Providing IT services"),
    c(
        "interposition",
        "eba_TA:x259",
        "Interposition between counterparties",
    ),
    c("risk-management", "eba_TA:x260", "Risk management"),
    c(
        "fund-accounting",
        "eba_TA:x261",
        "Legal and fund management accounting services",
    ),
    c("customer-inquiries", "eba_TA:x262", "Customer inquiries"),
    c(
        "valuation",
        "eba_TA:x263",
        "Valuation and pricing, including tax returns",
    ),
    c(
        "compliance-monitoring",
        "eba_TA:x264",
        "Regulatory compliance monitoring",
    ),
];

/// The value of `list` that `text` names: its word, its bare code (`S19`,
/// `x12`) or its prefixed code (`eba_TA:S19`).
#[must_use]
pub fn lookup(list: &'static [Code], text: &str) -> Option<&'static Code> {
    let text = text.trim();
    list.iter().find(|c| {
        c.word == text
            || c.code == text
            || c.code.split_once(':').is_some_and(|(_, bare)| bare == text)
    })
}

/// The words of `list`, for error messages.
#[must_use]
pub fn words(list: &'static [Code]) -> Vec<&'static str> {
    list.iter().map(|c| c.word).collect()
}

/// The label of a prefixed code in `list`.
#[must_use]
pub fn label(list: &'static [Code], code: &str) -> Option<&'static str> {
    list.iter().find(|c| c.code == code).map(|c| c.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_codes_and_prefixed_codes_name_the_same_value() {
        for text in ["cloud-saas", "S19", "eba_TA:S19"] {
            assert_eq!(
                lookup(SERVICE_TYPES, text).map(|c| c.code),
                Some("eba_TA:S19")
            );
        }
        assert!(lookup(SERVICE_TYPES, "S20").is_none());
        assert!(lookup(SERVICE_TYPES, "eba_ZZ:S19").is_none());
        assert_eq!(lookup(ACTIVITIES, "x162").map(|c| c.word), Some("deposits"));
    }

    #[test]
    fn every_list_has_unique_words_and_codes() {
        for list in [
            ENTITY_TYPES,
            HIERARCHY,
            ARRANGEMENTS,
            TERMINATIONS,
            SERVICE_TYPES,
            SENSITIVENESS,
            RELIANCE,
            IMPACT,
            YES_NO_NOT_ASSESSED,
            SUBSTITUTABILITY,
            SUBSTITUTABILITY_REASONS,
            REINTEGRATION,
            PERSON,
            ACTIVITIES,
        ] {
            let mut words: Vec<_> = list.iter().map(|c| c.word).collect();
            let mut codes: Vec<_> = list.iter().map(|c| c.code).collect();
            words.sort_unstable();
            codes.sort_unstable();
            let n = list.len();
            words.dedup();
            codes.dedup();
            assert_eq!((words.len(), codes.len()), (n, n), "{list:?}");
        }
        assert_eq!(SERVICE_TYPES.len(), 19);
        assert_eq!(ENTITY_TYPES.len(), 24);
        assert_eq!(ACTIVITIES.len(), 128);
    }
}
