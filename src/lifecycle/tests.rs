//! Unit tests of the pure findings lifecycle: one per transition.

use super::*;
