//! E-mail: safe text, message building and delivery.

pub mod deliver;
pub mod text;

pub use deliver::{DeliveryReport, MailSetupError, Mailer, SendError, deliver_due};
