//! The record an auditor can trust, through the binary: read commands never
//! change the database, and every view tells the same grade.
