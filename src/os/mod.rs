//! Calls into the operating system that are neither files nor the network protocol: network
//! change notifications, giving memory back, waiting for a stop signal.

pub mod memory;
pub mod network;
pub mod signals;
