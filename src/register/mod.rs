//! The DORA Register of Information (Regulation (EU) 2022/2554 Art. 28(3),
//! templates of Implementing Regulation (EU) 2024/2956): the register data
//! declared in the registry, the 15 templates built from it, the checks a
//! supervisor applies before accepting a submission, and the xBRL-CSV
//! report package.

#![allow(
    clippy::doc_markdown,
    reason = "template ids (B_02.01) and column codes (c0010) are words of the ITS here, not code"
)]

pub mod codes;
pub mod codes_iso;
pub mod gaps;
pub mod model;
pub mod package;
pub mod rules;
pub mod templates;

pub use model::{
    Amount, Branch, ContractRecord, Entity, Function, Party, PartyId, Provider, Register, Service,
    Subcontractor,
};
