//! The command protocol's files: what a command reports in `STRATA_EVENTS`, and reading what
//! it wrote to `STRATA_OUTPUT` in any of the four formats.
