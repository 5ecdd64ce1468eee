//! Boundary tests of the paperwork checks, day by day.
