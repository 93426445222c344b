//! The sync rules as pure functions over metadata and a clock passed in: what to transfer
//! (`plan`), when (`schedule`), and what an error means (`fault`). Nothing here does I/O,
//! reads a clock, sleeps or logs.

pub(crate) mod fault;
pub mod plan;
pub(crate) mod schedule;
