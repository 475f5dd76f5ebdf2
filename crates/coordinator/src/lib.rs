//! A ZooKeeper-wire-compatible coordinator.
