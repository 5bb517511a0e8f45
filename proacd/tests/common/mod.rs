//! Shared helpers of proacd's test crates. Test files include the ones
//! they need by path (`#[path = "common/tempdir.rs"] mod tempdir;`), as the
//! name `common` is taken by the suite's library crate.
